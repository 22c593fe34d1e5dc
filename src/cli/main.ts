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

process.exitCode = await runCli(process.argv.slice(2), undefined, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
