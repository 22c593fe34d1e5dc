import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.ts';
import { type FakeUpstream } from './helpers/fake-upstream.ts';
import { DEFAULT_KEY, type Service } from './helpers/service.ts';
import { useSourceEachTest } from './helpers/source-service.ts';
import { storeVariety } from './helpers/variety.ts';

/**
 * `--key-file` and `--source-key-file`: the keys read from files, so that they are not in the command line, which
 * any local user reads (`ps`, /proc/PID/cmdline) for as long as a run lasts (a mirror runs for hours).
 */

let upstream: FakeUpstream;
let source: Service;
let folder: string;

useSourceEachTest((setup) => ({ upstream, source, folder } = setup));

const EXAMPLES = resolve(import.meta.dirname, '../examples/completions.jsonl');
const exampleIds = readFileSync(EXAMPLES, 'utf8').trim().split('\n').map((line) => (JSON.parse(line) as { id: string }).id);

function fileWith(name: string, text: string): string {
  const path = join(folder, name);
  writeFileSync(path, text);
  return path;
}

const idsOf = (jsonl: string) => jsonl.trim().split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { id: string }).id);

describe('keys read from files', () => {
  it('import and export take --key-file, the key without the whitespace around it, as the project --key names', async () => {
    const env = { DATABASE_URL: join(folder, 'db.sqlite') };
    const keyFile = fileWith('key', ' sk-a\r\n');
    const imported = await runCli(['import', EXAMPLES, '--key-file', keyFile], { env });
    expect(imported.code, imported.stderr).toBe(0);
    const byKey = await runCli(['export', '--key', 'sk-a', '--order', 'asc'], { env });
    expect(byKey.code, byKey.stderr).toBe(0);
    expect(new Set(idsOf(byKey.stdout))).toEqual(new Set(exampleIds));
    const byFile = await runCli(['export', '--key-file', keyFile, '--order', 'asc'], { env });
    expect(byFile.code, byFile.stderr).toBe(0);
    expect(byFile.stdout).toBe(byKey.stdout);
  });

  it("mirror takes --source-key-file and --key-file, and bash's <(printf ...) as the help shows", async () => {
    const stored = await storeVariety(source, upstream);
    const env = { DATABASE_URL: join(folder, 'copy.db') };
    const cli = resolve(import.meta.dirname, '../bin/stored-completions.mjs');
    // Spawned without blocking: the source service answers from this process.
    const child = spawn(
      'bash',
      ['--noprofile', '--norc', '-c', `"${process.execPath}" "${cli}" mirror --from "${source.origin}/v1" --source-key-file <(printf %s "$KEY") --key-file <(printf %s "$KEY")`],
      { env: { PATH: process.env.PATH ?? '', KEY: DEFAULT_KEY, ...env } },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const [code] = (await once(child, 'close')) as [number | null];
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(new RegExp(`^mirror: ${stored.length} copied, 0 already there`, 'm'));
    const again = await runCli(['mirror', '--from', `${source.origin}/v1`, '--source-key-file', fileWith('source', `${DEFAULT_KEY}\n`), '--key', DEFAULT_KEY], { env });
    expect(again.code, again.stderr).toBe(0);
    // The same mirror as the first run (its position is kept by source, key, project and filters): nothing left to copy.
    expect(again.stderr).toMatch(new RegExp(`^mirror: 0 copied, ${stored.length} already there`, 'm'));
    const exported = await runCli(['export', '--key', DEFAULT_KEY], { env });
    expect(new Set(idsOf(exported.stdout))).toEqual(new Set(stored));
  });

  it('refuses a key no request can carry (a Windows line end from $(cat FILE), a space, a line break, past U+00FF), never echoing it, nothing opened or asked', async () => {
    const env = { DATABASE_URL: join(folder, 'never.sqlite') };
    const around = (option: string) =>
      `--${option}: the key begins or ends with a space or a line break (pasted with what followed it, or read with $(cat FILE) from a file ` +
      `with Windows line ends), which no request carries: give the key alone, or --${option}-file, which drops the whitespace around it`;
    const inside = (option: string) =>
      `--${option}: the key holds a character no request can carry (a control character such as a line break, or one past U+00FF): check that it was copied whole and alone`;
    const mirror = (sourceKey: string) => ['mirror', '--from', `${source.origin}/v1`, '--source-key', sourceKey, '--key', DEFAULT_KEY];
    const cases: [string[], string][] = [
      // What `--key "$(cat key.txt)"` gives for a file saved with Windows line ends: stored under a project of its own, which the
      // service's clients (whose key arrives without it) never see, the import said "3 stored" and exit 0.
      [['import', EXAMPLES, '--key', `${DEFAULT_KEY}\r`], around('key')],
      [['export', '--key', ` ${DEFAULT_KEY}`], around('key')],
      [['export', '--key', `sk-a\u001bb`], inside('key')],
      [mirror(`sk-sec\nret`), inside('source-key')],
      [mirror('sk-secret\u2026'), inside('source-key')],
      [mirror(`${DEFAULT_KEY}\r`), around('source-key')],
    ];
    for (const [args, message] of cases) {
      const run = await runCli(args, { env });
      expect({ code: run.code, stderr: run.stderr }, JSON.stringify(args)).toEqual({
        code: 2,
        stderr: `stored-completions ${args[0]}: ${message}\n(stored-completions ${args[0]} --help shows the options)\n`,
      });
    }
    expect(existsSync(join(folder, 'never.sqlite'))).toBe(false);
  });

  it('refuses a key given both ways, a file it cannot read, an empty one, and one with more than the key in it (exit 2, nothing opened)', async () => {
    const env = { DATABASE_URL: join(folder, 'never.sqlite') };
    const keyFile = fileWith('key', 'sk-a\n');
    const cases: [string[], string][] = [
      [['export', '--key', 'sk-a', '--key-file', keyFile], '--key and --key-file: give one of them'],
      [['import', EXAMPLES, '--key-file', join(folder, 'missing')], `--key-file: cannot read ${join(folder, 'missing')} (ENOENT)`],
      [['import', EXAMPLES, '--key-file', folder], `--key-file: cannot read ${folder} (EISDIR)`],
      [['export', '--key-file', fileWith('empty', ' \n')], `--key-file: ${join(folder, 'empty')} is empty`],
      [['export', '--key-file', fileWith('two', 'sk-a\nsk-b\n')], `--key-file: ${join(folder, 'two')} holds more than one line or word; expected the key alone`],
      [
        ['mirror', '--from', 'http://127.0.0.1:1/v1', '--source-key', 'sk-x', '--source-key-file', keyFile, '--key', 'sk-a'],
        '--source-key and --source-key-file: give one of them',
      ],
      [['mirror', '--from', 'http://127.0.0.1:1/v1', '--key', 'sk-a'], '--source-key KEY (or --source-key-file PATH) is required'],
    ];
    for (const [args, message] of cases) {
      const run = await runCli(args, { env });
      expect({ code: run.code, stderr: run.stderr }, args.join(' ')).toEqual({
        code: 2,
        stderr: `stored-completions ${args[0]}: ${message}\n(stored-completions ${args[0]} --help shows the options)\n`,
      });
    }
    expect(readFileSync(join(folder, 'key'), 'utf8')).toBe('sk-a\n');
    expect(existsSync(join(folder, 'never.sqlite'))).toBe(false);
  });
});
