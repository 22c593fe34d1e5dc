import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/client.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.ts';
import { startService, type Service } from './helpers/service.ts';

let upstream: FakeUpstream;
let service: Service;

beforeEach(async () => {
  upstream = await startFakeUpstream();
  service = await startService({ upstreamUrl: upstream.url });
});

afterEach(async () => {
  await service.close();
  await upstream.close();
});

/** Every read endpoint's raw bytes for the stored set. */
async function snapshot(target: Service, ids: string[]): Promise<string[]> {
  const paths = [
    '/v1/chat/completions?limit=100',
    '/v1/chat/completions?limit=3&order=desc',
    '/v1/chat/completions?metadata[team]=a',
    '/v1/chat/completions?model=gpt-4o-mini',
    ...ids.flatMap((id) => [`/v1/chat/completions/${id}`, `/v1/chat/completions/${id}/messages`]),
  ];
  return Promise.all(
    paths.map(async (path) => {
      const res = await target.request(path);
      return `${res.status} ${path}\n${await res.text()}`;
    }),
  );
}

describe('restart on the same database', () => {
  it('serves everything stored, byte for byte', async () => {
    const client = service.client();
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const created = await client.chat.completions.create({
        model: i % 2 ? 'gpt-4o' : 'gpt-4o-mini',
        messages: [
          { role: 'system', content: 'sys' },
          { role: 'user', content: [{ type: 'text', text: `q${i} ünïcødé ✓` }] },
        ],
        store: true,
        metadata: { team: i % 3 ? 'a' : 'b', n: String(i) },
        temperature: i / 10,
      });
      ids.push(created.id);
    }
    await client.chat.completions.update(ids[0]!, { metadata: { team: 'a', edited: 'yes' } });
    await client.chat.completions.delete(ids[1]!);

    const before = await snapshot(service, ids);
    await service.stop();
    const restarted = await startService({ upstreamUrl: upstream.url, databasePath: service.databasePath });
    try {
      const after = await snapshot(restarted, ids);
      expect(after).toEqual(before);
      // The same key still maps to the same project: nothing became invisible.
      expect(after[0]).toContain(ids[0]);
    } finally {
      await restarted.stop();
    }
    // afterEach closes `service` again: reopen it so that close has something to close.
    service = await startService({ upstreamUrl: upstream.url, databasePath: service.databasePath });
  });

  it('reopening an up-to-date database applies no migration and changes no schema', () => {
    const schemaOf = (path: string) => {
      const db = openDatabase(path);
      const schema = db.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY name').all();
      const migrations = db.prepare('SELECT hash, created_at FROM __drizzle_migrations ORDER BY id').all();
      db.close();
      return { schema, migrations };
    };
    const first = schemaOf(service.databasePath);
    const second = schemaOf(service.databasePath);
    expect(second).toEqual(first);
    expect(first.migrations.length).toBeGreaterThan(0);
  });
});
