import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, runCliInProcess } from './helpers/cli.ts';
import { useSourceEachTest } from './helpers/source-service.ts';

/**
 * What the tool says to people: the overview with no command (a usage error, on standard error), the summaries'
 * counts grouped by thousands (while the JSON lines stay as they are), and `export --choice` refused where no
 * line is made of one choice.
 */

let folder: string;

useSourceEachTest((setup) => ({ folder } = setup));

describe('the overview', () => {
  it('with no command is a usage error: on standard error, exit code 2, nothing on standard output', async () => {
    const run = await runCli([], { env: { DATABASE_URL: join(folder, 'db.sqlite') } });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^stored-completions: expected a command\n\nUsage: stored-completions <command> \[options\]\n\nCommands:\n {2}export /);
    expect(run.stderr).toMatch(/`stored-completions <command> --help` shows a command's options and an example\.\n$/);
  });

  it('asked for (--help, -h, help) is the output: standard output, exit code 0', async () => {
    const env = { DATABASE_URL: join(folder, 'db.sqlite') };
    const overview = (await runCli([], { env })).stderr.replace(/^stored-completions: expected a command\n\n/, '');
    for (const ask of ['--help', '-h', 'help']) {
      const run = await runCliInProcess([ask], { env });
      expect(run, ask).toEqual({ code: 0, stdout: overview, stderr: '' });
    }
  });
});
