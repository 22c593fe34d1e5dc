import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * What `npm start` and the image run: the bundle of src/server.ts (built before the tests
 * start, by test/helpers/build-bundles.ts). Tests that start the service as its own process
 * run this, so they test the code users run.
 */
export const SERVICE_ENTRY = resolve(repoRoot, 'dist/server.mjs');

/** A log line of the child, parsed. */
export type LogLine = Record<string, unknown> & { msg?: string };

/** The real entry point (`dist/server.mjs`, the bundle of `src/server.ts`) running as its own process, as under docker or systemd. */
export interface ChildServer {
  origin: string;
  process: ChildProcess;
  /** Every JSON line the child wrote to stdout so far. */
  logs: LogLine[];
  /** Resolves with the first log line whose `msg` is this, now or later. */
  waitForLog(msg: string): Promise<LogLine>;
  /** Resolves when the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface ChildServerOptions {
  databasePath: string;
  upstreamUrl: string;
  env?: Record<string, string>;
  /** Sees every log line as it comes, before the server listens too. */
  onLog?: (line: LogLine) => void;
  /** Gets the process as soon as it is started, before it listens (to signal it while it starts). */
  onSpawn?: (child: ChildProcess) => void;
  /**
   * `npm start` runs the README's command instead of node itself, in a process group of its own
   * (so a test can end whatever npm left behind with `process.kill(-pid)`).
   */
  viaNpmStart?: boolean;
}

/** Starts `node dist/server.mjs` on an ephemeral port and resolves once it listens. */
export async function startChildServer(options: ChildServerOptions): Promise<ChildServer> {
  // Only what the service and node need: nothing of the test runner's environment leaks into the config.
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
    ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: options.databasePath,
    UPSTREAM_BASE_URL: options.upstreamUrl,
    LOG_LEVEL: 'info',
    ...options.env,
  };
  const child = options.viaNpmStart
    ? spawn('npm', ['start'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    : spawn(process.execPath, [SERVICE_ENTRY], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  options.onSpawn?.(child);
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));

  const logs: LogLine[] = [];
  const waiters: { msg: string; resolve: (line: LogLine) => void }[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { msg: text };
    }
    logs.push(line);
    options.onLog?.(line);
    for (const waiter of waiters.filter((w) => w.msg === line.msg)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(line);
    }
  });

  const waitForLog = (msg: string) =>
    new Promise<LogLine>((resolveLine, reject) => {
      const seen = logs.find((line) => line.msg === msg);
      if (seen) return resolveLine(seen);
      waiters.push({ msg, resolve: resolveLine });
      void exited.then(({ code, signal }) => reject(new Error(`server exited (${code ?? signal}) before logging '${msg}':\n${stderr}`)));
    });

  const listening = await waitForLog('listening');
  return { origin: `http://127.0.0.1:${listening.port as number}`, process: child, logs, waitForLog, exited };
}

/** Ends every child still running with `signal` and waits until each has exited (for afterEach). */
export async function stopChildren(children: ChildServer[], signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  for (const child of children) {
    if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill(signal);
    await child.exited;
  }
}

/** A promise with its resolve handle, for letting a test decide when a fake upstream answers. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolveIt!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolveIt = r;
  });
  return { promise, resolve: resolveIt };
}
