import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toCompletionRecord } from '../src/wire.ts';
import { runCli } from './helpers/cli.ts';
import { fakeCompletion, type FakeUpstream, sendJson } from './helpers/fake-upstream.ts';
import { storeVariety } from './helpers/variety.ts';
import { DEFAULT_KEY, type Service, startService } from './helpers/service.ts';
import { hasPostgresServer, noteSkippedServerCases } from './helpers/test-database.ts';
import { projectOf, type SourceSetup, useSourceEachTest } from './helpers/source-service.ts';

let upstream: FakeUpstream;
let source: Service;
let folder: string;
let later: SourceSetup['later'];

useSourceEachTest((setup) => ({ upstream, source, folder, later } = setup));

async function text(service: Service, path: string): Promise<string> {
  const res = await service.request(path);
  expect(res.status, path).toBe(200);
  return res.text();
}

/** The source's completions exported to `name`.jsonl and imported into a new database, served by a service of its own. */
async function importedCopy(name: string): Promise<Service> {
  const file = join(folder, `${name}.jsonl`);
  expect((await runCli(['export', '--key', DEFAULT_KEY, '--out', file], { env: { DATABASE_URL: source.databasePath } })).code).toBe(0);
  const copyPath = join(folder, 'copy.db');
  const imported = await runCli(['import', file, '--key', DEFAULT_KEY], { env: { DATABASE_URL: copyPath } });
  expect(imported.code, imported.stderr).toBe(0);
  return startService({ upstreamUrl: upstream.url, databasePath: copyPath });
}

describe('export then import', () => {
  it('serves every retrieve, list and messages page byte for byte as the first database did', async () => {
    const ids = await storeVariety(source, upstream);
    expect(ids).toHaveLength(6);
    const file = join(folder, 'all.jsonl');
    const exported = await runCli(['export', '--key', DEFAULT_KEY, '--out', file], { env: { DATABASE_URL: source.databasePath } });
    expect(exported.stderr).toMatch(/export: 6 lines \(completions\) from 6 completions/);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toBe('');

    const copyPath = join(folder, 'copy.db');
    const imported = await runCli(['import', file, '--key', DEFAULT_KEY], { env: { DATABASE_URL: copyPath } });
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stderr).toMatch(/import: 6 stored, 0 already there/);

    const copy = await startService({ upstreamUrl: upstream.url, databasePath: copyPath });
    try {
      for (const id of ids) {
        expect(await text(copy, `/v1/chat/completions/${id}`)).toBe(await text(source, `/v1/chat/completions/${id}`));
        for (const query of ['', '?limit=1', '?limit=1&order=desc', `?after=${id}-0&limit=1`]) {
          const path = `/v1/chat/completions/${id}/messages${query}`;
          const first = await source.request(path);
          expect(await copy.request(path).then((r) => r.text())).toBe(await first.text());
        }
      }
      for (const query of ['', '?limit=2', '?order=desc', '?metadata[user]=u_2', '?model=gpt-4o']) {
        expect(await text(copy, `/v1/chat/completions${query}`)).toBe(await text(source, `/v1/chat/completions${query}`));
      }

      // Idempotent: the same file again stores nothing.
      const again = await runCli(['import', file, '--key', DEFAULT_KEY], { env: { DATABASE_URL: copyPath } });
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toMatch(/import: 0 stored, 6 already there/);
      expect(JSON.parse(await text(copy, '/v1/chat/completions?limit=100')).data).toHaveLength(6);

      // And the file exported from the copy is the file exported from the source.
      const reexported = await runCli(['export', '--key', DEFAULT_KEY], { env: { DATABASE_URL: copyPath } });
      expect(reexported.stdout).toBe(readFileSync(file, 'utf8'));
    } finally {
      await copy.close();
    }
  });

  it('keeps integers past 2^53 as stored through export, import and mirror', async () => {
    // No JavaScript client can send these exactly: a raw body, as a Python client's int64 seed arrives.
    const tools = '[{"type":"function","function":{"name":"pick","parameters":{"type":"object","properties":{"n":{"type":"integer","maximum":9223372036854775807}}}}}]';
    const created = await source.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"model":"gpt-4o","messages":[{"role":"user","content":"pick"}],"store":true,"seed":-9223372036854775808,"tools":${tools}}`,
    });
    expect(created.status).toBe(200);
    const { id } = (await created.json()) as { id: string };
    const original = await text(source, `/v1/chat/completions/${id}`);
    expect(original).toContain('"seed":-9223372036854775808');
    expect(original).toContain(`"tools":${tools}`);

    const file = join(folder, 'big.jsonl');
    const exported = await runCli(['export', '--key', DEFAULT_KEY, '--out', file], { env: { DATABASE_URL: source.databasePath } });
    expect(exported.code, exported.stderr).toBe(0);
    const imported = join(folder, 'imported.db');
    expect((await runCli(['import', file, '--key', DEFAULT_KEY], { env: { DATABASE_URL: imported } })).code).toBe(0);
    const mirrored = join(folder, 'mirrored.db');
    const mirror = await runCli(['mirror', '--from', `${source.origin}/v1`, '--source-key', DEFAULT_KEY, '--key', DEFAULT_KEY], {
      env: { DATABASE_URL: mirrored },
    });
    expect(mirror.code, mirror.stderr).toBe(0);
    for (const databasePath of [imported, mirrored]) {
      const copy = await startService({ upstreamUrl: upstream.url, databasePath });
      try {
        expect(await text(copy, `/v1/chat/completions/${id}`)).toBe(original);
      } finally {
        await copy.close();
      }
    }
  });

  it('mirrors each completion with its own integers past 2^53, where two on one list page round to one double', async () => {
    const ids: string[] = [];
    for (const seed of ['9223372036854775807', '9223372036854775806']) {
      const created = await source.request('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: `{"model":"gpt-4o","messages":[{"role":"user","content":"seed ${seed}"}],"store":true,"seed":${seed}}`,
      });
      expect(created.status).toBe(200);
      ids.push(((await created.json()) as { id: string }).id);
    }
    const originals = await Promise.all(ids.map((id) => text(source, `/v1/chat/completions/${id}`)));
    expect(originals[0]).toContain('"seed":9223372036854775807');
    expect(originals[1]).toContain('"seed":9223372036854775806');
    const mirrored = join(folder, 'mirrored.db');
    const mirror = await runCli(['mirror', '--from', `${source.origin}/v1`, '--source-key', DEFAULT_KEY, '--key', DEFAULT_KEY], {
      env: { DATABASE_URL: mirrored },
    });
    expect(mirror.code, mirror.stderr).toBe(0);
    const copy = await startService({ upstreamUrl: upstream.url, databasePath: mirrored });
    try {
      expect(await Promise.all(ids.map((id) => text(copy, `/v1/chat/completions/${id}`)))).toEqual(originals);
    } finally {
      await copy.close();
    }
  });

  it('carries metadata and tool schemas in the order create kept, keys that read as integers too (an object would put them first)', async () => {
    upstream.nextIds = ['chatcmpl-key-order'];
    const tools = '[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"b":{"type":"string"},"2024":{"type":"string"}}}}}]';
    const created = await source.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"model":"gpt-4o","store":true,"messages":[{"role":"user","content":"Hi"}],"metadata":{"b":"1","10":"x","a":"2"},"tools":${tools}}`,
    });
    expect(created.status).toBe(200);
    const path = '/v1/chat/completions/chatcmpl-key-order';
    const served = await text(source, path);
    expect(served).toContain(',"metadata":{"b":"1","10":"x","a":"2"}}');
    expect(served).toContain(`"tools":${tools},`);
    const mirrored = join(folder, 'mirrored.db');
    const mirror = await runCli(['mirror', '--from', `${source.origin}/v1`, '--source-key', DEFAULT_KEY, '--key', DEFAULT_KEY], { env: { DATABASE_URL: mirrored } });
    expect(mirror.code, mirror.stderr).toBe(0);
    for (const copy of [await importedCopy('order'), await startService({ upstreamUrl: upstream.url, databasePath: mirrored })]) {
      try {
        expect(await text(copy, path)).toBe(served);
      } finally {
        await copy.close();
      }
    }
  });

  it('carries a completion the provider answered with an empty model name, which create stores as it came', async () => {
    upstream.handler = (request, res) => sendJson(res, 200, { ...fakeCompletion(request.json!, 'chatcmpl-blank-model', 1_700_000_000), model: '' });
    const created = await source.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'local-model', store: true, messages: [{ role: 'user', content: 'Hi' }] }),
    });
    expect(created.status).toBe(200);
    const file = join(folder, 'blank.jsonl');
    expect((await runCli(['export', '--key', DEFAULT_KEY, '--out', file], { env: { DATABASE_URL: source.databasePath } })).code).toBe(0);
    const copyPath = join(folder, 'copy.db');
    const imported = await runCli(['import', file, '--key', DEFAULT_KEY], { env: { DATABASE_URL: copyPath } });
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stderr).toMatch(/import: 1 stored/);
    const copy = await startService({ upstreamUrl: upstream.url, databasePath: copyPath });
    try {
      const path = '/v1/chat/completions/chatcmpl-blank-model';
      expect(await text(copy, path)).toBe(await text(source, path));
      expect(await text(copy, `${path}/messages`)).toBe(await text(source, `${path}/messages`));
    } finally {
      await copy.close();
    }
  });

  it('carries the messages of a completion stored without a string role (as creates stored them before they were refused: role null)', async () => {
    const id = 'chatcmpl-roles';
    const messages = [{ content: 'no role' }, 'a bare string', { role: 7, content: 'a number' }];
    const record = toCompletionRecord({
      request: { model: 'local-model', messages },
      response: fakeCompletion({ model: 'local-model', messages }, id, 1_700_000_000),
      id,
      requestId: 'req_roles',
      metadata: {},
      now: 1_700_000_000,
    });
    await source.store.saveCompletions(await projectOf(source, DEFAULT_KEY), [record]);
    const served = JSON.parse(await text(source, `/v1/chat/completions/${id}/messages`)) as { data: { role: unknown }[] };
    expect(served.data.map((item) => item.role)).toEqual([null, null, 7]);
    const copy = await importedCopy('roles');
    try {
      expect(await text(copy, `/v1/chat/completions/${id}/messages`)).toBe(await text(source, `/v1/chat/completions/${id}/messages`));
      expect(await text(copy, `/v1/chat/completions/${id}`)).toBe(await text(source, `/v1/chat/completions/${id}`));
    } finally {
      await copy.close();
    }
  });

  it('export --after and --order continue a cut export as the list would, and name an id the project never had', async () => {
    const stored = await storeVariety(source, upstream);
    const env = { DATABASE_URL: source.databasePath };
    const lineIds = (stdout: string) => stdout.trim().split('\n').map((line) => (JSON.parse(line) as { id: string }).id);
    const all = lineIds((await runCli(['export', '--key', DEFAULT_KEY], { env })).stdout);
    expect(all).toHaveLength(stored.length);
    const resumed = await runCli(['export', '--key', DEFAULT_KEY, '--after', all[1]!], { env });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(lineIds(resumed.stdout)).toEqual(all.slice(2));
    const newestFirst = await runCli(['export', '--key', DEFAULT_KEY, '--order', 'desc', '--after', all.at(-1)!, '--limit', '2'], { env });
    expect(lineIds(newestFirst.stdout)).toEqual(all.slice(-3, -1).reverse());
    const unknown = await runCli(['export', '--key', DEFAULT_KEY, '--after', 'chatcmpl-never'], { env });
    expect(unknown).toMatchObject({ code: 2, stdout: '' });
    expect(unknown.stderr).toContain("--after: the project has no completion 'chatcmpl-never' (nor had one)");
    const badOrder = await runCli(['export', '--key', DEFAULT_KEY, '--order', 'newest'], { env });
    expect(badOrder).toMatchObject({ code: 2, stdout: '' });
    expect(badOrder.stderr).toContain("--order: expected asc or desc, got 'newest'");

    // Into one file: the cut part, then the rest added with --append, is the whole export.
    const file = join(folder, 'resumed.jsonl');
    expect((await runCli(['export', '--key', DEFAULT_KEY, '--limit', '2', '--out', file], { env })).code).toBe(0);
    const rest = await runCli(['export', '--key', DEFAULT_KEY, '--after', all[1]!, '--append', '--out', file], { env });
    expect(rest.code, rest.stderr).toBe(0);
    expect(lineIds(readFileSync(file, 'utf8'))).toEqual(all);
    // Without it, --out starts the file again.
    expect((await runCli(['export', '--key', DEFAULT_KEY, '--after', all[1]!, '--out', file], { env })).code).toBe(0);
    expect(lineIds(readFileSync(file, 'utf8'))).toEqual(all.slice(2));
    const appendToStdout = await runCli(['export', '--key', DEFAULT_KEY, '--append'], { env });
    expect(appendToStdout).toMatchObject({ code: 2, stdout: '' });
    expect(appendToStdout.stderr).toContain('--append: it adds to the file --out names; standard output is a stream to redirect with >>');
  });

  it('writes each line as retrieve plus input_messages', async () => {
    const [id] = await storeVariety(source, upstream);
    const exported = await runCli(['export', '--key', DEFAULT_KEY, '--limit', '1'], { env: { DATABASE_URL: source.databasePath } });
    expect(exported.code, exported.stderr).toBe(0);
    const retrieved = await text(source, `/v1/chat/completions/${id}`);
    const messages = JSON.parse(await text(source, `/v1/chat/completions/${id}/messages`)) as { data: unknown[] };
    expect(exported.stdout).toBe(`${retrieved.slice(0, -1)},"input_messages":${JSON.stringify(messages.data)}}\n`);
  });
});

/** Every page a client reads of these completions (and a deleted id, as a cursor and by itself), as `service` serves it. */
async function pagesOf(service: Service, ids: string[], deleted: string): Promise<string[]> {
  const paths = [
    ...ids.flatMap((id) => [`/v1/chat/completions/${id}`, `/v1/chat/completions/${id}/messages`, `/v1/chat/completions/${id}/messages?limit=1&order=desc`]),
    ...['', '?limit=2', '?order=desc', '?metadata[user]=u_2', '?model=gpt-4o', '?search=picture', '?search=tagged', `?after=${deleted}`, `/${deleted}`].map(
      (query) => `/v1/chat/completions${query}`,
    ),
  ];
  return Promise.all(paths.map(async (path) => `${path} ${await (await service.request(path)).text()}`));
}

const POSTGRES = hasPostgresServer();
if (!POSTGRES) noteSkippedServerCases();

describe.skipIf(!POSTGRES)('moving completions to PostgreSQL and back (a real server)', () => {
  it('export then import into PostgreSQL, and copy SQLite to PostgreSQL to SQLite, serve every page as the source did', async () => {
    const ids = await storeVariety(source, upstream);
    const [deleted, ...kept] = [ids[1]!, ...ids.filter((id) => id !== ids[1])];
    expect((await source.request(`/v1/chat/completions/${deleted}`, { method: 'DELETE' })).status).toBe(200);
    const original = await pagesOf(source, kept, deleted);
    // Search is served from each database's own index, which import and copy fill.
    expect(original.find((page) => page.startsWith('/v1/chat/completions?search=picture '))).toMatch(/^\S+ \{"object":"list","data":\[\{"id":"chatcmpl-/);
    const file = join(folder, 'all.jsonl');
    expect((await runCli(['export', '--key', DEFAULT_KEY, '--out', file], { env: { DATABASE_URL: source.databasePath } })).code).toBe(0);

    // Import keeps no deleted ids (they are not in an export): only the cursor naming one differs.
    const imported = await startService({ upstreamUrl: upstream.url, backend: 'postgres' });
    later(() => imported.close());
    const importRun = await runCli(['import', file, '--key', DEFAULT_KEY], { env: { DATABASE_URL: imported.databasePath } });
    expect(importRun.stderr).toMatch(/^import: 5 stored, 0 already there/);
    const afterDeleted = (pages: string[]) => pages.filter((page) => !page.startsWith(`/v1/chat/completions?after=${deleted} `));
    expect(afterDeleted(await pagesOf(imported, kept, deleted))).toEqual(afterDeleted(original));
    expect((await runCli(['import', file, '--key', DEFAULT_KEY], { env: { DATABASE_URL: imported.databasePath } })).stderr).toMatch(/^import: 0 stored, 5 already there/);

    // Copy keeps everything, the deleted id and the secret that maps the key to its project included. The services
    // on the targets answered no request before the copy (a service that did makes a secret of its own to replace).
    const copied = await startService({ upstreamUrl: upstream.url, backend: 'postgres' });
    later(() => copied.close());
    const toPostgres = await runCli(['copy', '--from', source.databasePath, '--to', copied.databasePath], { env: {} });
    expect(toPostgres.stderr).toMatch(/^copy: 5 completions, 1 deleted id, 1 setting in /);
    expect(await pagesOf(copied, kept, deleted)).toEqual(original);

    const back = join(folder, 'back.db');
    const toSqlite = await runCli(['copy', '--from', copied.databasePath, '--to', back], { env: {} });
    expect(toSqlite.stderr).toMatch(/^copy: 5 completions, 1 deleted id, 1 setting in /);
    const returned = await startService({ upstreamUrl: upstream.url, databasePath: back });
    later(() => returned.close());
    expect(await pagesOf(returned, kept, deleted)).toEqual(original);
    // The exports agree byte for byte too.
    const exportOf = async (database: string) => (await runCli(['export', '--key', DEFAULT_KEY], { env: { DATABASE_URL: database } })).stdout;
    expect(await exportOf(copied.databasePath)).toBe(readFileSync(file, 'utf8'));
    expect(await exportOf(back)).toBe(readFileSync(file, 'utf8'));
  }, 120_000);
});
