import { runCli } from './run-cli.ts';

/** The command-line tool's entry: the only file of src/cli/ with side effects. */

// `export ... | head` closes the pipe early: that is the reader's choice, not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(0);
});

process.exitCode = await runCli(process.argv.slice(2), undefined, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
