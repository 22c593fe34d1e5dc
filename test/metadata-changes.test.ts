import Database from 'better-sqlite3';
import OpenAI from 'openai';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.ts';
import { type ChildServer, startChildServer, stopChildren } from './helpers/child-server.ts';
import { startService, type Service } from './helpers/service.ts';
import { TEST_POSTGRES_URL } from './helpers/test-database.ts';

/**
 * `POST /v1/stored-completions/metadata` (docs/api.md): pairs set and keys removed, merged with each map as it is
 * stored at that moment, on one completion or many; what OpenAI's whole-map update cannot do without losing what
 * another client wrote between a read and a write. Two operators tagging the same completions at once, through two
 * service instances on one database, keep both their tags.
 */

const ALICE = 'sk-alice-tagging-00000001';
const ANN = 'sk-ann-tagging-000000002';
const BOB = 'sk-bob-other-project-0003';
const ENV = { API_KEYS: `${ALICE}:team,${ANN}:team,${BOB}:other`, UPSTREAM_API_KEY: 'sk-upstream-secret' };

let upstream: FakeUpstream;
let service: Service;

beforeEach(async () => {
  upstream = await startFakeUpstream();
  service = await startService({ upstreamUrl: upstream.url, env: ENV });
});

afterEach(async () => {
  await service.close();
  await upstream.close();
});

type Metadata = Record<string, string>;

async function create(metadata: Metadata, key = ALICE): Promise<string> {
  const completion = await service.client(key).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], store: true, metadata });
  return completion.id;
}

/** `origin`: the instance asked (the test's own service by default). */
async function change(body: unknown, { key = ALICE, origin = service.origin } = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${origin}/v1/stored-completions/metadata`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function metadataOf(id: string, key = ALICE, origin = service.origin): Promise<Metadata> {
  return (await new OpenAI({ apiKey: key, baseURL: `${origin}/v1`, maxRetries: 0 }).chat.completions.retrieve(id)).metadata as Metadata;
}

const FIFTEEN = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`k${String(i).padStart(2, '0')}`, 'v']));

describe('changing metadata in place', () => {
  it('sets and removes pairs on each named completion, merged with its map, answered per id in the order asked', async () => {
    const a = await create({ env: 'prod', stale: 'x' });
    const b = await create({ stale: 'y', label: 'old' });
    const c = await create({ label: 'gold' });
    const answer = await change({ ids: [b, a, c], set: { label: 'gold' }, remove: ['stale'] });
    expect(answer).toEqual({
      status: 200,
      body: {
        object: 'list',
        data: [
          // The replaced key keeps its place; a key set anew goes after the others.
          { id: b, outcome: 'updated', metadata: { label: 'gold' }, previous_metadata: { stale: 'y', label: 'old' } },
          { id: a, outcome: 'updated', metadata: { env: 'prod', label: 'gold' }, previous_metadata: { env: 'prod', stale: 'x' } },
          { id: c, outcome: 'unchanged', metadata: { label: 'gold' }, previous_metadata: { label: 'gold' } },
        ],
      },
    });
    expect(await metadataOf(a)).toEqual({ env: 'prod', label: 'gold' });
    expect(await metadataOf(b)).toEqual({ label: 'gold' });
    // The filter index follows: the list finds them by the new pair, not by the removed one.
    const listed = await service.client(ALICE).chat.completions.list({ metadata: { label: 'gold' } });
    expect(listed.data.map((item) => item.id).sort()).toEqual([a, b, c].sort());
    expect((await service.client(ALICE).chat.completions.list({ metadata: { stale: 'x' } })).data).toEqual([]);
  });

  it('answers not_found alike for an id never stored, one deleted and another project\'s, and changes only the caller\'s', async () => {
    const mine = await create({ env: 'prod' });
    const deleted = await create({});
    await service.client(ALICE).chat.completions.delete(deleted);
    const theirs = await create({ team: 'b' }, BOB);
    const answer = await change({ ids: ['chatcmpl-never', deleted, theirs, mine], set: { seen: 'yes' } }, { key: ANN });
    const notFound = (id: string) => ({ id, outcome: 'not_found', metadata: null, previous_metadata: null });
    expect(answer).toEqual({
      status: 200,
      body: {
        object: 'list',
        data: [
          notFound('chatcmpl-never'),
          notFound(deleted),
          notFound(theirs),
          { id: mine, outcome: 'updated', metadata: { env: 'prod', seen: 'yes' }, previous_metadata: { env: 'prod' } },
        ],
      },
    });
    expect(await metadataOf(theirs, BOB)).toEqual({ team: 'b' });
    // And the other project, asking for the caller's completion, is told the same.
    expect(await change({ ids: [mine], remove: ['env'] }, { key: BOB })).toEqual({ status: 200, body: { object: 'list', data: [notFound(mine)] } });
    expect(await metadataOf(mine)).toEqual({ env: 'prod', seen: 'yes' });
  });

  it('leaves whole a completion the change would take past 16 pairs, and changes the others', async () => {
    const full = await create({ ...FIFTEEN, group: 'g' });
    const roomy = await create({ group: 'g' });
    const answer = await change({ ids: [full, roomy], set: { new: '1', group: 'h' } });
    expect(answer).toEqual({
      status: 200,
      body: {
        object: 'list',
        data: [
          { id: full, outcome: 'too_many_pairs', metadata: { ...FIFTEEN, group: 'g' }, previous_metadata: { ...FIFTEEN, group: 'g' } },
          { id: roomy, outcome: 'updated', metadata: { group: 'h', new: '1' }, previous_metadata: { group: 'g' } },
        ],
      },
    });
    // Not half changed: `group` stays as it was too.
    expect(await metadataOf(full)).toEqual({ ...FIFTEEN, group: 'g' });
    // A key it has can change, and one removed makes room in the same change.
    expect((await change({ ids: [full], set: { new: '1' }, remove: ['k00'] })).body).toMatchObject({ data: [{ outcome: 'updated' }] });
    const { k00: _, ...rest } = FIFTEEN;
    expect(await metadataOf(full)).toEqual({ ...rest, group: 'g', new: '1' });
  });

  it('applies a change only where `expect` holds (Undo: a tag put back only if nobody changed it since)', async () => {
    const tagged = await create({ eval: 'batch-1', env: 'dev' });
    const changed = await create({ eval: 'theirs' });
    const untagged = await create({ env: 'dev' });
    const answer = await change({ ids: [tagged, changed], remove: ['eval'], expect: { eval: 'batch-1' } });
    expect(answer.body).toEqual({
      object: 'list',
      data: [
        { id: tagged, outcome: 'updated', metadata: { env: 'dev' }, previous_metadata: { eval: 'batch-1', env: 'dev' } },
        { id: changed, outcome: 'expectation_failed', metadata: { eval: 'theirs' }, previous_metadata: { eval: 'theirs' } },
      ],
    });
    // null: the key must be absent.
    const absent = await change({ ids: [untagged, changed], set: { eval: 'first' }, expect: { eval: null } });
    expect((absent.body as { data: { outcome: string }[] }).data.map((item) => item.outcome)).toEqual(['updated', 'expectation_failed']);
    expect(await metadataOf(untagged)).toEqual({ env: 'dev', eval: 'first' });
    expect(await metadataOf(changed)).toEqual({ eval: 'theirs' });
  });

  it('keeps keys that are not plain names as pairs (__proto__, constructor)', async () => {
    const id = await create({ constructor: 'c' });
    const answer = await change(`{"ids":["${id}"],"set":{"__proto__":"p"},"remove":["constructor"]}`);
    expect(answer.body).toEqual({ object: 'list', data: [{ id, outcome: 'updated', metadata: JSON.parse('{"__proto__":"p"}'), previous_metadata: { constructor: 'c' } }] });
    expect(await metadataOf(id)).toEqual(JSON.parse('{"__proto__":"p"}'));
  });

  it('keeps the order the keys were written in, keys that read as integers too (an object would put them first)', async () => {
    const created = await fetch(`${service.origin}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json' },
      body: '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"store":true,"metadata":{"b":"1","10":"x","a":"2"}}',
    });
    const { id } = (await created.json()) as { id: string };
    const res = await fetch(`${service.origin}/v1/stored-completions/metadata`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json' },
      body: `{"ids":["${id}"],"set":{"z":"9","7":"y","b":"3"},"remove":["a"]}`,
    });
    expect(res.status).toBe(200);
    // The kept keys where they were, `b` in its place with its new value, the new keys after them as `set` wrote them.
    expect(await res.text()).toBe(
      `{"object":"list","data":[{"id":"${id}","outcome":"updated","metadata":{"b":"3","10":"x","z":"9","7":"y"},"previous_metadata":{"b":"1","10":"x","a":"2"}}]}`,
    );
    const retrieved = await (await fetch(`${service.origin}/v1/chat/completions/${id}`, { headers: { authorization: `Bearer ${ALICE}` } })).text();
    expect(retrieved).toContain(',"metadata":{"b":"3","10":"x","z":"9","7":"y"}}');
  });
});

describe('refusing what it cannot do: a 400 naming the parameter, nothing changed', () => {
  const error = (message: string, param: string | null, code: string | null) => ({ status: 400, body: { error: { message, type: 'invalid_request_error', param, code } } });
  const CASES: [name: string, body: (id: string) => unknown, expected: ReturnType<typeof error>][] = [
    ['no ids', () => ({ set: { a: 'b' } }), error("Missing required parameter: 'ids'.", 'ids', 'missing_required_parameter')],
    ['ids not an array', (id) => ({ ids: id, set: { a: 'b' } }), error("Invalid type for 'ids': expected an array of strings, but got a string instead.", 'ids', 'invalid_type')],
    ['an empty ids', () => ({ ids: [], set: { a: 'b' } }), error("Invalid 'ids': empty array. Expected an array with minimum length 1, but got an empty array instead.", 'ids', 'empty_array')],
    [
      '101 ids',
      (id) => ({ ids: [id, ...Array.from({ length: 100 }, (_, i) => `chatcmpl-${i}`)], set: { a: 'b' } }),
      error("Invalid 'ids': array too long. Expected an array with maximum length 100, but got an array with length 101 instead.", 'ids', 'array_above_max_length'),
    ],
    [
      'fifty thousand ids',
      () => ({ ids: Array.from({ length: 50_000 }, () => 1), set: { a: 'b' } }),
      error("Invalid 'ids': array too long. Expected an array with maximum length 100, but got an array with length 50000 instead.", 'ids', 'array_above_max_length'),
    ],
    [
      // More values than BODY_LIMIT_VALUES: refused before the body is parsed, as on every JSON route.
      'a million ids',
      () => ({ ids: Array.from({ length: 1_000_000 }, () => 1), set: { a: 'b' } }),
      error('Invalid body: more than 100000 JSON values and object keys.', null, 'invalid_value'),
    ],
    ['an id not a string', (id) => ({ ids: [id, 7], set: { a: 'b' } }), error("Invalid type for 'ids[1]': expected a string, but got an integer instead.", 'ids[1]', 'invalid_type')],
    ['an id twice', (id) => ({ ids: [id, 'x', id], set: { a: 'b' } }), error("Invalid 'ids[2]': the same id as 'ids[0]'.", 'ids[2]', 'invalid_value')],
    ['nothing to change', (id) => ({ ids: [id] }), error("Nothing to change: give pairs in 'set' or keys in 'remove'.", 'set', 'missing_required_parameter')],
    ['empty set and remove', (id) => ({ ids: [id], set: {}, remove: [] }), error("Nothing to change: give pairs in 'set' or keys in 'remove'.", 'set', 'missing_required_parameter')],
    ['set an array', (id) => ({ ids: [id], set: ['a'] }), error("Invalid type for 'set': expected an object, but got an array instead.", 'set', 'invalid_type')],
    ['a value not a string', (id) => ({ ids: [id], set: { a: 1 } }), error("Invalid type for 'set.a': expected a string, but got an integer instead.", 'set.a', 'invalid_type')],
    [
      '17 pairs set',
      (id) => ({ ids: [id], set: { ...FIFTEEN, a: '1', b: '2' } }),
      error("Invalid 'set': too many properties. Expected an object with at most 16 properties, but got an object with 17 properties instead.", 'set', 'object_above_max_properties'),
    ],
    [
      'a key of 65 characters',
      (id) => ({ ids: [id], set: { ['k'.repeat(65)]: 'v' } }),
      error("Invalid 'set': key too long. Expected a key with maximum length 64, but got a key with length 65 instead.", 'set', 'string_above_max_length'),
    ],
    [
      'a value of 513 characters',
      (id) => ({ ids: [id], set: { a: 'v'.repeat(513) } }),
      error("Invalid 'set.a': string too long. Expected a string with maximum length 512, but got a string with length 513 instead.", 'set.a', 'string_above_max_length'),
    ],
    ['remove an object', (id) => ({ ids: [id], remove: { a: 'b' } }), error("Invalid type for 'remove': expected an array of strings, but got an object instead.", 'remove', 'invalid_type')],
    ['a key removed not a string', (id) => ({ ids: [id], remove: ['a', null] }), error("Invalid type for 'remove[1]': expected a string, but got null instead.", 'remove[1]', 'invalid_type')],
    [
      '17 keys removed',
      (id) => ({ ids: [id], remove: Array.from({ length: 17 }, (_, i) => `k${i}`) }),
      error("Invalid 'remove': array too long. Expected an array with maximum length 16, but got an array with length 17 instead.", 'remove', 'array_above_max_length'),
    ],
    [
      'a key removed of 65 characters, named by its place in the list',
      (id) => ({ ids: [id], remove: ['ok', 'k'.repeat(65)] }),
      error("Invalid 'remove[1]': key too long. Expected a key with maximum length 64, but got a key with length 65 instead.", 'remove[1]', 'string_above_max_length'),
    ],
    [
      // Its place in the list, not `remove.\ud800`: a path into an object `remove` is not, echoing the broken text.
      'a key removed half a surrogate pair',
      (id) => ({ ids: [id], remove: ['ok', '\ud800'] }),
      error("Invalid 'remove[1]': keys and values must be valid Unicode text.", 'remove[1]', 'invalid_value'),
    ],
    ['a key both set and removed', (id) => ({ ids: [id], set: { a: '1' }, remove: ['a'] }), error("Invalid 'remove': 'a' is also in 'set'.", 'remove', 'invalid_value')],
    ['expect a list', (id) => ({ ids: [id], set: { a: '1' }, expect: ['a'] }), error("Invalid type for 'expect': expected an object, but got an array instead.", 'expect', 'invalid_type')],
    ['an expected value a number', (id) => ({ ids: [id], set: { a: '1' }, expect: { a: 2 } }), error("Invalid type for 'expect.a': expected a string or null, but got an integer instead.", 'expect.a', 'invalid_type')],
    ['half a surrogate pair', (id) => ({ ids: [id], set: { a: '\ud800' } }), error("Invalid 'set.a': keys and values must be valid Unicode text.", 'set.a', 'invalid_value')],
    ['an unknown parameter', (id) => ({ ids: [id], set: { a: '1' }, metadata: {} }), error("Unknown parameter: 'metadata'.", 'metadata', 'unknown_parameter')],
  ];

  for (const [name, body, expected] of CASES) {
    it(name, async () => {
      const id = await create({ keep: 'me' });
      // Large enough for the million ids: the limits are the endpoint's own, not the body's.
      expect(await change(body(id))).toEqual(expected);
      expect(await metadataOf(id)).toEqual({ keep: 'me' });
    });
  }

  it('a body not an object, and no key', async () => {
    expect(await change('[1]')).toEqual(error('Invalid body: expected a JSON object, but got an array instead.', null, 'invalid_type'));
    const res = await service.request('/v1/stored-completions/metadata', { auth: false, method: 'POST', body: '{}' });
    expect(res.status).toBe(401);
    // Only POST: a GET there is our unknown path's 404, never forwarded.
    const get = await service.request('/v1/stored-completions/metadata', { key: ALICE });
    expect({ status: get.status, body: await get.json() }).toEqual({
      status: 404,
      body: { error: { message: 'Invalid URL (GET /v1/stored-completions/metadata)', type: 'invalid_request_error', param: null, code: null } },
    });
    expect(upstream.received.filter((request) => request.path.includes('stored-completions'))).toEqual([]);
  });
});

describe('two operators tagging the same completions at once', () => {
  const COUNT = 60;
  /** The instance the second operator's requests go to. */
  let second: string;
  let children: ChildServer[];
  let ids: string[];

  beforeEach(async () => {
    // Another process of the service (`dist/server.mjs`) on the same database, where the backend lets one open it (a
    // SQLite file, a PostgreSQL server; the embedded PGlite is this process's alone): two processes share no memory
    // and no event loop, so only the database can keep one operator's change from undoing the other's.
    const shared = service.backend === 'sqlite' || TEST_POSTGRES_URL !== undefined;
    children = shared ? [await startChildServer({ databasePath: service.databasePath, upstreamUrl: upstream.url, env: ENV })] : [];
    second = children[0]?.origin ?? service.origin;
    ids = [];
    for (let i = 0; i < COUNT; i++) ids.push(await create({ group: 'race', n: String(i) }));
  });

  afterEach(async () => {
    await stopChildren(children);
  });

  /** Runs `work` on each id, `width` at a time. */
  async function eachOf(work: (id: string) => Promise<void>, width = 8): Promise<void> {
    const queue = [...ids];
    await Promise.all(Array.from({ length: width }, async () => {
      while (queue.length) await work(queue.shift()!);
    }));
  }

  it('the whole-map update loses one operator\'s tag wherever their reads cross (what the UI did)', async () => {
    // Each reads the map, adds a pair and writes the whole map back, as the web UI's bulk tag and "Tag" did. Both
    // read before either writes: the second write puts back the map without the first one's pair.
    await eachOf(async (id) => {
      const [mine, theirs] = await Promise.all([metadataOf(id, ALICE), metadataOf(id, ANN, second)]);
      await service.client(ALICE).chat.completions.update(id, { metadata: { ...mine, reviewed: 'alice' } });
      await new OpenAI({ apiKey: ANN, baseURL: `${second}/v1`, maxRetries: 0 }).chat.completions.update(id, { metadata: { ...theirs, split: 'eval' } });
    });
    const kept = await Promise.all(ids.map((id) => metadataOf(id)));
    expect(kept.filter((metadata) => metadata.reviewed === 'alice' && metadata.split === 'eval')).toEqual([]);
  });

  /**
   * Holds the database's writes until `release`: the test's own transaction, as another process's long write would
   * (SQLite: its write lock; PostgreSQL: the metadata table locked against writes, reads still free). `waiting` is
   * when `count` requests wait on it (PostgreSQL says so; SQLite does not, so a moment's pause stands in).
   */
  async function holdWrites(): Promise<{ waiting(count: number): Promise<void>; release(): Promise<void> }> {
    if (service.backend === 'sqlite') {
      const other = new Database(service.databasePath);
      other.exec('BEGIN IMMEDIATE');
      return {
        waiting: () => new Promise((resolve) => setTimeout(resolve, 300)),
        release: async () => {
          other.exec('COMMIT');
          other.close();
        },
      };
    }
    const other = new pg.Client({ connectionString: service.databasePath });
    await other.connect();
    await other.query('BEGIN');
    await other.query('LOCK TABLE metadata IN EXCLUSIVE MODE');
    return {
      waiting: async (count) => {
        await expect.poll(async () => (await other.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")).rows[0].n).toBe(count);
      },
      release: async () => {
        await other.query('COMMIT');
        await other.end();
      },
    };
  }

  it.skipIf(TEST_POSTGRES_URL === undefined && process.env.TEST_BACKEND === 'postgres')(
    'keeps both tags when both requests arrive while the database holds writes back (each reads the map it writes to)',
    async () => {
      const held = await holdWrites();
      const both = Promise.all([
        change({ ids, set: { reviewed: 'alice' } }),
        change({ ids: [...ids].reverse(), set: { split: 'eval' } }, { key: ANN, origin: second }),
      ]);
      await held.waiting(2);
      await held.release();
      expect((await both).map((answer) => answer.status)).toEqual([200, 200]);
      const kept = await Promise.all(ids.map((id) => metadataOf(id)));
      expect(kept).toEqual(ids.map((_, i) => ({ group: 'race', n: String(i), reviewed: 'alice', split: 'eval' })));
    },
  );

  it('the merge in place keeps every tag of both, one completion a request or all in one, through two instances', async () => {
    // One completion a request, 8 in flight each: the most interleaving there is.
    await Promise.all([
      eachOf(async (id) => void expect((await change({ ids: [id], set: { reviewed: 'alice' } })).status).toBe(200)),
      eachOf(async (id) => void expect((await change({ ids: [id], set: { split: 'eval' } }, { key: ANN, origin: second })).status).toBe(200)),
    ]);
    expect(await Promise.all(ids.map((id) => metadataOf(id)))).toEqual(ids.map((_, i) => ({ group: 'race', n: String(i), reviewed: 'alice', split: 'eval' })));
    // All at once, in opposite orders (a backend locking rows as named would deadlock here).
    const [forward, backward] = await Promise.all([
      change({ ids, set: { pass: '2' }, remove: ['reviewed'] }),
      change({ ids: [...ids].reverse(), set: { checked: 'ann' } }, { key: ANN, origin: second }),
    ]);
    expect([forward.status, backward.status]).toEqual([200, 200]);
    const kept = await Promise.all(ids.map((id) => metadataOf(id)));
    expect(kept).toEqual(ids.map((_, i) => ({ group: 'race', n: String(i), split: 'eval', pass: '2', checked: 'ann' })));
  });
});
