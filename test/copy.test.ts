import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, runCliInProcess } from './helpers/cli.ts';
import type { FakeUpstream } from './helpers/fake-upstream.ts';
import { DEFAULT_KEY, type Service, startService } from './helpers/service.ts';
import { projectOf, type SourceSetup, useSourceEachTest } from './helpers/source-service.ts';
import { storeVariety } from './helpers/variety.ts';

let upstream: FakeUpstream;
let source: Service;
let folder: string;
let later: SourceSetup['later'];

useSourceEachTest((setup) => ({ upstream, source, folder, later } = setup));

const OTHER_KEY = 'sk-test-key-0002';

async function view(service: Service, key: string, deletedId: string): Promise<string[]> {
  const paths = ['/v1/stored-completions/export', '/v1/chat/completions?limit=100', `/v1/chat/completions?after=${deletedId}&limit=100`];
  return Promise.all(
    paths.map(async (path) => {
      const res = await service.request(path, { key });
      return `${path} ${res.status} ${await res.text()}`;
    }),
  );
}

describe('copy', () => {
  it('copies every project, the deleted ids and the key secret, while the service runs on the source', async () => {
    const ids = await storeVariety(source, upstream);
    await source.client(OTHER_KEY).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'other' }], store: true, metadata: { team: 'b' } });
    await source.client().chat.completions.update(ids[0]!, { metadata: { reviewed: 'yes' } });
    await source.client().chat.completions.delete(ids[1]!);

    const target = join(folder, 'copy.db');
    const run = await runCli(['copy', '--from', source.databasePath, '--to', target], { env: {} });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^copy: 6 completions, 1 deleted ids, 1 settings in /);

    const copy = await startService({ upstreamUrl: upstream.url, databasePath: target });
    try {
      for (const key of [DEFAULT_KEY, OTHER_KEY]) expect(await view(copy, key, ids[1]!)).toEqual(await view(source, key, ids[1]!));
      expect(await view(copy, DEFAULT_KEY, ids[1]!)).toContainEqual(expect.stringMatching(/^\/v1\/chat\/completions\?after=\S+ 200 /));
    } finally {
      await copy.stop();
    }

    const again = await runCliInProcess(['copy', '--from', source.databasePath, '--to', target], { env: {} });
    expect(again).toMatchObject({ code: 1, stderr: `stored-completions copy: the target ${target} already holds data: copy only writes into an empty database\n` });
  });

  it('copies into a database a service has only run its health check on (no data, only the check\'s mark)', async () => {
    await storeVariety(source, upstream);
    expect((await source.request('/healthz', { auth: false })).status).toBe(200);
    const target = join(folder, 'fresh.db');
    const fresh = await startService({ upstreamUrl: upstream.url, databasePath: target, env: { API_KEYS: `${DEFAULT_KEY}:team` } });
    try {
      expect((await fresh.request('/healthz', { auth: false })).status).toBe(200);
    } finally {
      await fresh.stop();
    }
    const run = await runCliInProcess(['copy', '--from', source.databasePath, '--to', target], { env: {} });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^copy: 6 completions, 0 deleted ids, 1 settings in /);
  });
});
