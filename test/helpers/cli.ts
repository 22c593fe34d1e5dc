import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
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
}

/** Runs `stored-completions <args>` as its own process, exactly as an operator would (through bin/). */
export function runCli(args: string[], options: CliOptions): Promise<CliResult> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
    ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
    ...options.env,
  };
  const child = spawn(process.execPath, [resolve(repoRoot, 'bin/stored-completions.mjs'), ...args], {
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
  return new Promise((resolvePromise, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolvePromise({ code, stdout, stderr, ...(signal ? { signal } : {}) }));
  });
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
