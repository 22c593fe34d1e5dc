import '../v8-settings.ts';
import { createStopSignals } from '../stop-signals.ts';
import { runCli } from './run-cli.ts';

/** The command-line tool's entry: the only file of src/cli/ with side effects. */

// `export ... | head` closes the pipe early: not an error worth a stack trace, but not a success either: a reader
// that crashed (`export | gzip` on a full disk) would otherwise leave a script believing the export complete. So one
// line on stderr, and the status a Unix tool killed by SIGPIPE reports (128 + 13), which `set -o pipefail` catches.
// Any other failed write (`export > file` on a full disk: ENOSPC) is a failure like another, exit code 1 with what
// went wrong, not a stack trace; said here, where it is heard at once, even after the last line was handed over.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') {
    process.stderr.write(`stored-completions: stopped: cannot write standard output: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write('stored-completions: stopped: the reader of its standard output exited before everything was written\n');
  process.exit(141);
});

/** The most an interrupted command's cleanups may take (a database that does not answer must not hold Ctrl-C). */
const CLEANUP_BOUND_MS = 2_000;
const cleanups = new Set<() => Promise<void>>();
const kindOf = createStopSignals();
/**
 * Ends the process by the signal itself, not with exit(128 + n): a shell running the tool in a loop (or any
 * script) stops at Ctrl-C only when its child died of SIGINT; one that exited, even with 130, is taken to
 * have handled it, and the loop goes on to the next run. Without listeners, Node gives the signal back its
 * default action; the exit code is for a platform where that does not end the process.
 */
function dieOf(signal: 'SIGINT' | 'SIGTERM', code: number): void {
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  // A container's first process (pid 1) is not ended by a signal left to its default action: `docker stop` would wait.
  if (process.pid === 1) process.exit(code);
  setTimeout(() => process.exit(code), 1_000);
  process.kill(process.pid, signal);
}
// Exits as a process killed by the signal, after the cleanups; a second signal ends it at once (the first one
// delivered again at once, as `npm run cli` and a terminal's Ctrl-C do together, is not a second one).
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.on(signal, () => {
    const kind = kindOf(signal);
    if (kind === 'repeat') return;
    if (kind === 'second') return dieOf(signal, code);
    process.stderr.write(`stored-completions: stopped by ${signal}\n`);
    setTimeout(() => dieOf(signal, code), CLEANUP_BOUND_MS).unref();
    void Promise.allSettled([...cleanups].map((cleanup) => cleanup())).then(() => dieOf(signal, code));
  });
}

process.exitCode = await runCli(process.argv.slice(2), undefined, {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  onInterrupt(cleanup) {
    cleanups.add(cleanup);
    return () => cleanups.delete(cleanup);
  },
});
