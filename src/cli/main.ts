import { runCli } from './run-cli.ts';

/** The command-line tool's entry: the only file of src/cli/ with side effects. */

// `export ... | head` closes the pipe early: not an error worth a stack trace, but not a success either: a reader
// that crashed (`export | gzip` on a full disk) would otherwise leave a script believing the export complete. So one
// line on stderr, and the status a Unix tool killed by SIGPIPE reports (128 + 13), which `set -o pipefail` catches.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.stderr.write('stored-completions: stopped: the reader of its standard output exited before everything was written\n');
  process.exit(141);
});

/** The most an interrupted command's cleanups may take (a database that does not answer must not hold Ctrl-C). */
const CLEANUP_BOUND_MS = 2_000;
const cleanups = new Set<() => Promise<void>>();
let interrupted = false;
// Exits as a process killed by the signal reports (128 + its number), after the cleanups; a second signal exits at once.
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(code);
    interrupted = true;
    process.stderr.write(`stored-completions: stopped by ${signal}\n`);
    setTimeout(() => process.exit(code), CLEANUP_BOUND_MS).unref();
    void Promise.allSettled([...cleanups].map((cleanup) => cleanup())).then(() => process.exit(code));
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
