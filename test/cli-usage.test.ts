import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, runCliInProcess } from './helpers/cli.ts';
import { DEFAULT_KEY, type Service } from './helpers/service.ts';
import { useSourceEachTest } from './helpers/source-service.ts';

/**
 * What the tool says to people: the overview with no command (a usage error, on standard error), the summaries'
 * counts grouped by thousands (while the JSON lines stay as they are), and `export --choice` refused where no
 * line is made of one choice.
 */

let folder: string;
let source: Service;

useSourceEachTest((setup) => ({ folder, source } = setup));

const EXAMPLES = resolve(import.meta.dirname, '../examples/completions.jsonl');
const exampleLines = readFileSync(EXAMPLES, 'utf8').trim().split('\n');
/** The example whose reply is a refusal: no fine-tuning example, so each copy is a skip the summary counts. */
const refusalLine = exampleLines.find((line) => (JSON.parse(line) as { choices: { message: { refusal: unknown } }[] }).choices[0]!.message.refusal !== null)!;

/** `count` copies of the refusal example, each under an id of its own: past a thousand, for the grouping. */
function manyCompletions(count: number): string {
  const example = JSON.parse(refusalLine) as { id: string; input_messages: { id: string }[] };
  const lines = Array.from({ length: count }, (_, i) => {
    const id = `chatcmpl-many${String(i).padStart(5, '0')}`;
    return JSON.stringify({ ...example, id, input_messages: example.input_messages.map((message, at) => ({ ...message, id: `${id}-${at}` })) });
  });
  return `${lines.join('\n')}\n`;
}

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

describe('summaries', () => {
  it('group counts by thousands (1,234), and leave the exported lines as they were imported', async () => {
    const env = { DATABASE_URL: join(folder, 'db.sqlite') };
    const file = join(folder, 'many.jsonl');
    const text = manyCompletions(1234);
    writeFileSync(file, text);

    const imported = await runCli(['import', file, '--key', 'sk-a'], { env });
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stderr).toMatch(/^import: 1,234 stored, 0 already there \(skipped\), 0 invalid lines skipped, 1,234 lines in \d+\.\d s, [\d,]+\/s\n$/);
    const again = await runCliInProcess(['import', file, '--key', 'sk-a'], { env });
    expect(again.stderr).toMatch(/^import: 0 stored, 1,234 already there \(skipped\), 0 invalid lines skipped, 1,234 lines in /);

    const exported = await runCli(['export', '--key', 'sk-a'], { env });
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toBe(text);
    expect(exported.stderr).toMatch(/^export: 1,234 lines \(completions\) from 1,234 completions in \d+\.\d s, [\d,]+\/s\n$/);

    const finetune = await runCliInProcess(['export', '--key', 'sk-a', '--format', 'finetune'], { env });
    expect(finetune.code, finetune.stderr).toBe(0);
    expect(finetune.stdout).toBe('');
    expect(finetune.stderr).toMatch(/^export: 0 lines \(finetune\) from 1,234 completions in [^;]*; skipped 1,234: 1,234 for refusal \(the reply is a refusal\)\n$/);

    const copied = await runCliInProcess(['copy', '--from', env.DATABASE_URL, '--to', join(folder, 'copy.sqlite')], { env });
    expect(copied.code, copied.stderr).toBe(0);
    expect(copied.stderr).toMatch(/^copy: 1,234 completions, 0 deleted ids, 1 setting in \d+\.\d s, [\d,]+\/s\n$/);
  });

  it("group mirror's counts too", async () => {
    const file = join(folder, 'many.jsonl');
    writeFileSync(file, manyCompletions(1001));
    // Into the running source's own database, as an operator imports beside a service.
    const imported = await runCliInProcess(['import', file, '--key', DEFAULT_KEY], { env: { DATABASE_URL: source.databasePath } });
    expect(imported.code, imported.stderr).toBe(0);

    const env = { DATABASE_URL: join(folder, 'mirror.sqlite') };
    const mirrored = await runCli(['mirror', '--from', `${source.origin}/v1`, '--source-key', DEFAULT_KEY, '--key', DEFAULT_KEY, '--concurrency', '16'], { env });
    expect(mirrored.code, mirrored.stderr).toBe(0);
    // The summary is the last line (a run past five seconds writes progress lines before it).
    expect(mirrored.stderr).toMatch(
      /^mirror: 1,001 copied, 0 already there, 0 deleted at the source meanwhile, 0 not storable, 0 not mirrored; 1,001 listed on 11 pages, 0 retries, \d+\.\d s, [\d,]+\/s\n$/m,
    );
    const again = await runCliInProcess(['mirror', '--from', `${source.origin}/v1`, '--source-key', DEFAULT_KEY, '--key', DEFAULT_KEY, '--from-start'], { env });
    expect(again.stderr).toMatch(/^mirror: 0 copied, 1,001 already there, 0 deleted at the source meanwhile, 0 not storable, 0 not mirrored; 1,001 listed on 11 pages, /m);
  });
});

describe('export --choice', () => {
  it('is a usage error with the completions format, whose lines hold every choice, as --sample is with a format but eval', async () => {
    const env = { DATABASE_URL: join(folder, 'db.sqlite') };
    expect((await runCliInProcess(['import', EXAMPLES, '--key', 'sk-a'], { env })).code).toBe(0);
    const refusal =
      'stored-completions export: --choice: only finetune and eval lines are made of one choice (the format is completions, whose lines hold every choice; add --format finetune or --format eval)\n' +
      '(stored-completions export --help shows the options)\n';
    for (const args of [['--choice', '1'], ['--choice', '0', '--format', 'completions']]) {
      const run = await runCliInProcess(['export', '--key', 'sk-a', ...args], { env });
      expect(run, args.join(' ')).toEqual({ code: 2, stdout: '', stderr: refusal });
    }
    for (const format of ['finetune', 'eval']) {
      const run = await runCliInProcess(['export', '--key', 'sk-a', '--format', format, '--choice', '1'], { env });
      expect(run.code, run.stderr).toBe(0);
    }
  });
});
