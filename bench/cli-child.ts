import { runCli } from '../src/cli/run-cli.ts';

/**
 * Runs one command of the command-line tool, then reports the process's peak
 * resident memory on its last line of standard error: what `npm run bench:export`
 * reads to show that export and import run in constant memory.
 */
process.exitCode = await runCli(process.argv.slice(2), undefined, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
process.stderr.write(`\nmaxRssBytes ${process.resourceUsage().maxRSS * 1024}\n`);
