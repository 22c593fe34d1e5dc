import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { runCli as runCliHere } from '../../src/cli/run-cli.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface CliResult {
  code: number | null;
  /** The signal the process died of, if it did (then `code` is null). */
  signal?: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Environment variables for the tool (DATABASE_URL, API_KEYS, ...), on top of PATH and HOME only. */
  env: Record<string, string>;
  /** Written to the tool's standard input, which is then closed. */
  input?: string;
  /** Called with the child once it runs (to interrupt it). */
  onSpawn?: (child: ReturnType<typeof spawn>) => void;
  /**
   * For a command that ends in a second or two: past this, the run fails saying where the child waits (its
   * diagnostic report's stack and open handles) and whether it had exited, rather than the test's bare timeout.
   */
  deadlineMs?: number;
}

/** Runs `stored-completions <args>` as its own process, exactly as an operator would (through bin/). */
export function runCli(args: string[], options: CliOptions): Promise<CliResult> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
    ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
    ...options.env,
  };
  const reports = options.deadlineMs === undefined ? undefined : mkdtempSync(join(tmpdir(), 'cli-report-'));
  // Node writes a report of the process (JavaScript stack, libuv handles) when sent SIGUSR2: nothing else changes.
  const reportFlags = reports === undefined ? [] : ['--report-on-signal', '--report-signal=SIGUSR2', `--report-directory=${reports}`];
  const child = spawn(process.execPath, [...reportFlags, resolve(repoRoot, 'bin/stored-completions.mjs'), ...args], {
    cwd: repoRoot,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  options.onSpawn?.(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.end(options.input ?? '');
  let exited: string | undefined;
  child.on('exit', (code, signal) => (exited = `exited (code ${code}, signal ${signal})`));
  return new Promise<CliResult>((resolvePromise, reject) => {
    const deadline =
      reports === undefined
        ? undefined
        : setTimeout(() => void diagnose(child, reports, exited).then((why) => reject(new Error(`stored-completions ${args.join(' ')}: not ended after ${options.deadlineMs} ms: ${why}\nstderr so far: ${JSON.stringify(stderr)}`))), options.deadlineMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(deadline);
      resolvePromise({ code, stdout, stderr, ...(signal ? { signal } : {}) });
    });
  }).finally(() => reports !== undefined && rmSync(reports, { recursive: true, force: true }));
}

/** What a child past its deadline waits on: its report's JavaScript stack and the handles keeping it alive. */
async function diagnose(child: ChildProcess, reports: string, exited: string | undefined): Promise<string> {
  // Exited, yet its standard output or error not closed: something it started holds them.
  if (exited !== undefined) return `${exited}, but its standard output or error is still open`;
  child.kill('SIGUSR2');
  let report: string | undefined;
  for (let waited = 0; report === undefined && waited < 3_000; waited += 100) {
    await new Promise((resolveLater) => setTimeout(resolveLater, 100));
    const name = readdirSync(reports).find((file) => file.endsWith('.json'));
    if (name !== undefined) report = readFileSync(join(reports, name), 'utf8');
  }
  child.kill('SIGKILL');
  if (report === undefined) return 'still running, and wrote no diagnostic report';
  try {
    type Handle = { type: string; is_active: boolean; is_referenced?: boolean; fd?: number; firesInMsFromNow?: number };
    const parsed = JSON.parse(report) as { javascriptStack?: { stack?: string[] }; libuv?: Handle[] };
    // The handles that keep a process alive: active and referenced (a timer's wait, a stream's fd).
    const handles = (parsed.libuv ?? [])
      .filter((handle) => handle.is_active && handle.is_referenced !== false)
      .map((handle) => `${handle.type}${handle.fd !== undefined ? ` fd ${handle.fd}` : ''}${handle.firesInMsFromNow !== undefined ? ` in ${handle.firesInMsFromNow} ms` : ''}`);
    return `still running; stack: ${(parsed.javascriptStack?.stack ?? []).join(' | ') || '(idle)'}; active handles: ${handles.join(', ') || 'none'}`;
  } catch {
    return 'still running (its report was not readable yet)';
  }
}

/**
 * The same command run inside the test process (the same code as bin/ runs,
 * without the second or two a process takes to start): for checking messages
 * and outcomes where being a separate process does not matter.
 */
export async function runCliInProcess(args: string[], options: Omit<CliOptions, 'onSpawn'>): Promise<CliResult> {
  const collect = () => {
    const stream = new PassThrough();
    let text = '';
    stream.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    return { stream, text: () => text };
  };
  const stdout = collect();
  const stderr = collect();
  const code = await runCliHere(args, options.env, {
    stdin: Readable.from([options.input ?? '']),
    stdout: stdout.stream,
    stderr: stderr.stream,
  });
  await new Promise((resolveLater) => setImmediate(resolveLater));
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}
