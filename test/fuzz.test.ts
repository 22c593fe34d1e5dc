import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { maskKey } from '../src/auth.ts';
import { fakeCompletion, sendJson, startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.ts';
import { nastyString, readChecked, safely } from './helpers/fuzz-input.ts';
import { assertMatchesSchema } from './helpers/openai-schema.ts';
import { startService, type Service } from './helpers/service.ts';

/**
 * Property-based fuzzing of everything a client controls: the list query string,
 * completion ids in the path, request bodies and the Authorization header.
 * Properties: never a 5xx; every error is OpenAI's four-field shape; a caller
 * never sees another project's data; and, where a precise model is cheap
 * (metadata filters, update bodies), exactly the right answer.
 *
 * `npm test` runs a fixed seed; a longer run: `FUZZ_RUNS=5000 npx vitest run test/fuzz.test.ts`
 * (and `FUZZ_SEED=<n>` to try other seeds or replay a reported failure).
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_128);
const RUNS = Number(process.env.FUZZ_RUNS ?? 120);
const options = { seed: SEED, numRuns: RUNS, endOnFailure: true };

const BODY_LIMIT = 4096;
const KEYS = { alice: 'sk-alice-fuzz-000000000001', bob: 'sk-bob-fuzz-00000000000002' };

let upstream: FakeUpstream;
let service: Service;

interface Seeded {
  /** id -> the completion as its owner retrieves it. */
  alice: Map<string, Record<string, unknown>>;
  bob: Map<string, Record<string, unknown>>;
}

/** The filter alphabet of the precise list property: small, so filters often match, and hostile. */
const FILTER_KEYS = ['a]b[c', '%2F', '__proto__', 'ключ 🔑', "'; DROP--", 'env'];
const FILTER_VALUES = ['', 'x y', '+&=', '%', '"q"', 'prod'];

/** Deterministic metadata for the i-th seeded completion: a spread of pairs from the filter alphabet. */
function seedMetadata(i: number): Record<string, string> {
  const pairs: [string, string][] = [];
  FILTER_KEYS.forEach((key, k) => {
    if ((i + k) % 3 !== 0) pairs.push([key, FILTER_VALUES[(i * 7 + k) % FILTER_VALUES.length]!]);
  });
  return Object.fromEntries(pairs);
}

async function seed(): Promise<Seeded> {
  const seeded: Seeded = { alice: new Map(), bob: new Map() };
  // Some ids exist in both projects, so a leak by id would show.
  upstream.nextIds = [];
  for (let i = 0; i < 10; i++) upstream.nextIds.push(i % 3 === 0 ? `chatcmpl-both-${i}` : `chatcmpl-alice-${i}`);
  for (let i = 0; i < 10; i++) upstream.nextIds.push(i % 3 === 0 ? `chatcmpl-both-${i}` : `chatcmpl-bob-${i}`);
  for (const owner of ['alice', 'bob'] as const) {
    const client = service.client(KEYS[owner]);
    for (let i = 0; i < 10; i++) {
      upstream.created = 1_700_000_000 + (i % 4);
      const created = await client.chat.completions.create({
        model: i % 2 === 0 ? 'gpt-4o' : 'gpt-4o-mini',
        messages: [{ role: 'user', content: `${owner}-secret` }],
        store: true,
        metadata: seedMetadata(i),
      });
      seeded[owner].set(created.id, (await (await service.request(`/v1/chat/completions/${created.id}`, { key: KEYS[owner] })).json()) as Record<string, unknown>);
    }
  }
  return seeded;
}

/** OpenAI's list schema, with our documented exception: an empty page has null first_id and last_id. */
function expectList(body: { data: { id: string }[]; first_id: string | null; last_id: string | null }): void {
  if (body.data.length === 0) {
    expect([body.first_id, body.last_id]).toEqual([null, null]);
    assertMatchesSchema('ChatCompletionList', { ...body, first_id: '', last_id: '' });
  } else {
    assertMatchesSchema('ChatCompletionList', body);
    expect([body.first_id, body.last_id]).toEqual([body.data[0]!.id, body.data.at(-1)!.id]);
  }
}

/** Every completion alice is shown must be one of hers: her secret is in its answer. */
function expectOnlyAlice(completion: { choices: { message: { content: string } }[] }): void {
  expect(completion.choices[0]!.message.content).toBe('echo 0: alice-secret');
}

async function expectBobUntouched(seeded: Seeded): Promise<void> {
  for (const [id, stored] of seeded.bob) {
    const res = await service.request(`/v1/chat/completions/${encodeURIComponent(id)}`, { key: KEYS.bob });
    expect(await res.json()).toEqual(stored);
  }
}

beforeEach(async () => {
  upstream = await startFakeUpstream();
  service = await startService({ upstreamUrl: upstream.url, env: { BODY_LIMIT_BYTES: String(BODY_LIMIT) } });
});

afterEach(async () => {
  await service.close();
  await upstream.close();
});

describe('fuzz: the list query string', () => {
  it('any query string: no 5xx, a valid list of only the caller’s completions, or an error in the shape', async () => {
    const seeded = await seed();
    const allIds = [...seeded.alice.keys(), ...seeded.bob.keys()];
    const name = fc.oneof(
      fc.constantFrom('limit', 'order', 'after', 'model', 'metadata'),
      nastyString.map((k) => `metadata[${k}]`),
      fc.constantFrom(...FILTER_KEYS).map((k) => `metadata[${k}]`),
      nastyString,
    );
    const value = fc.oneof(
      fc.constantFrom('asc', 'desc', '1', '3', '20', '100', '0', '-1', '101', '1.5', ' 2', 'gpt-4o', ...FILTER_VALUES, ...allIds),
      nastyString,
    );
    const encode = fc.constantFrom<(s: string) => string>(safely(encodeURIComponent), (s) => s, (s) => new URLSearchParams([['', s]]).toString().slice(1));
    const params = fc.array(fc.tuple(name, value, encode), { maxLength: 6 }).map((list) => list.map(([n, v, e]) => `${e(n)}=${e(v)}`));
    const bobOnly = [...seeded.bob.keys()].filter((id) => !seeded.alice.has(id));
    // Often enough to matter: a cursor taken from bob's project, among other parameters.
    const query = fc.oneof(
      { weight: 3, arbitrary: params.map((list) => list.join('&')) },
      fc.tuple(fc.constantFrom(...bobOnly), params).map(([after, list]) => [`after=${after}`, ...list].join('&')),
    );

    await fc.assert(
      fc.asyncProperty(query, async (q) => {
        const url = `${service.origin}/v1/chat/completions?${q}`;
        const { status, body } = await readChecked(await service.request(url.slice(service.origin.length), { key: KEYS.alice }));
        const params = new URL(url).searchParams;
        const after = params.getAll('after');
        if (after.length === 1 && after[0] !== '' && !seeded.alice.has(after[0]!)) {
          // An id of bob's (or of no one) is an unknown cursor for alice.
          expect(status).toBe(400);
        }
        if (status === 200) {
          expectList(body);
          for (const completion of body.data) {
            expectOnlyAlice(completion);
            expect(completion).toEqual(seeded.alice.get(completion.id));
          }
        }
      }),
      options,
    );
    await expectBobUntouched(seeded);
  });

  it('metadata filters in every encoding return exactly the matching completions, page after page', async () => {
    const seeded = await seed();
    type Stored = { id: string; created: number; metadata: Record<string, string> };
    const ordered = (owner: 'alice') =>
      ([...seeded[owner].values()] as unknown as Stored[]).sort((a, b) => a.created - b.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const encoders: Record<string, (pairs: [string, string][]) => string> = {
      // openai-node: RFC 3986, brackets and all percent-encoded.
      node: (pairs) => pairs.map(([k, v]) => `${encodeURIComponent(`metadata[${k}]`)}=${encodeURIComponent(v)}`).join('&'),
      // openai-python (httpx): form encoding, spaces as +.
      python: (pairs) => new URLSearchParams(pairs.map(([k, v]): [string, string] => [`metadata[${k}]`, v])).toString(),
      // curl and hand-written URLs: brackets as they are.
      raw: (pairs) => pairs.map(([k, v]) => `metadata[${encodeURIComponent(k)}]=${encodeURIComponent(v)}`).join('&'),
    };
    const filter = fc.uniqueArray(fc.tuple(fc.constantFrom(...FILTER_KEYS), fc.constantFrom(...FILTER_VALUES)), {
      minLength: 1,
      maxLength: 3,
      selector: ([k]) => k,
    });

    await fc.assert(
      fc.asyncProperty(
        filter,
        fc.constantFrom(...Object.keys(encoders)),
        fc.constantFrom('asc', 'desc'),
        fc.integer({ min: 1, max: 4 }),
        async (pairs, encoding, order, limit) => {
          const expected = ordered('alice')
            .filter((c) => pairs.every(([k, v]) => Object.hasOwn(c.metadata, k) && c.metadata[k] === v))
            .map((c) => c.id);
          if (order === 'desc') expected.reverse();
          const seen: string[] = [];
          let after: string | undefined;
          for (let page = 0; page < 20; page++) {
            const query = `${encoders[encoding]!(pairs)}&order=${order}&limit=${limit}${after ? `&after=${encodeURIComponent(after)}` : ''}`;
            const { status, body } = await readChecked(await service.request(`/v1/chat/completions?${query}`, { key: KEYS.alice }));
            expect(status).toBe(200);
            expectList(body);
            for (const completion of body.data) expectOnlyAlice(completion);
            seen.push(...body.data.map((c: { id: string }) => c.id));
            if (!body.has_more) break;
            after = body.data.at(-1).id;
          }
          expect(seen).toEqual(expected);
        },
      ),
      options,
    );
  });
});

describe('fuzz: completion ids in the path', () => {
  it('any id, any endpoint, either caller: 404 unless the caller owns it, never another project’s data', async () => {
    const seeded = await seed();
    const id = fc.oneof(fc.constantFrom(...seeded.alice.keys(), ...seeded.bob.keys()), nastyString, fc.string({ unit: 'binary', maxLength: 40 }));
    const encode = fc.constantFrom<(s: string) => string>(safely(encodeURIComponent), safely(encodeURI), (s) => s);
    const endpoint = fc.constantFrom('retrieve', 'messages', 'update-same', 'delete-missing');

    await fc.assert(
      fc.asyncProperty(id, encode, endpoint, fc.constantFrom('alice', 'bob') as fc.Arbitrary<'alice' | 'bob'>, async (raw, e, which, caller) => {
        const encoded = e(raw);
        // A delete would change what later runs see: only ids the caller does not own are deleted.
        if (which === 'delete-missing' && seeded[caller].has(raw)) return;
        const path = `/v1/chat/completions/${encoded}${which === 'messages' ? '/messages' : ''}`;
        const init: RequestInit & { key: string } = { key: KEYS[caller] };
        const own = seeded[caller].get(raw);
        if (which === 'update-same') {
          init.method = 'POST';
          init.headers = { 'content-type': 'application/json' };
          init.body = JSON.stringify({ metadata: own?.metadata ?? { x: 'y' } });
        }
        if (which === 'delete-missing') init.method = 'DELETE';
        const res = await service.request(path, init);
        const text = await res.clone().text();
        const { status, body } = await readChecked(res);
        if (status !== 200) return;
        // Whatever a raw path normalized to, nothing of the other project comes back.
        expect(text).not.toContain(caller === 'alice' ? 'bob-secret' : 'alice-secret');
        if (body.object === 'chat.completion') expect(body).toEqual(seeded[caller].get(body.id));
      }),
      options,
    );
    await expectBobUntouched(seeded);
    for (const [completionId, stored] of seeded.alice) {
      expect(await (await service.request(`/v1/chat/completions/${completionId}`, { key: KEYS.alice })).json()).toEqual(stored);
    }
  });
});

/** What update must answer for a body, from the contract: 413, 400, or 200 with exactly this metadata. */
function expectedUpdate(bytes: Uint8Array): { status: 200; metadata: unknown } | { status: 400 | 413 } {
  if (bytes.byteLength > BODY_LIMIT) return { status: 413 };
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return { status: 400 };
  }
  const depth = (v: unknown): number =>
    typeof v === 'object' && v !== null ? 1 + Math.max(0, ...Object.values(v).map(depth)) : 0;
  if (typeof body !== 'object' || body === null || Array.isArray(body) || depth(body) > 128) return { status: 400 };
  if (!Object.hasOwn(body, 'metadata')) return { status: 400 };
  if (Object.keys(body).some((key) => key !== 'metadata')) return { status: 400 };
  const metadata = (body as { metadata: unknown }).metadata;
  if (metadata === null) return { status: 200, metadata: {} };
  if (typeof metadata !== 'object' || Array.isArray(metadata)) return { status: 400 };
  const entries = Object.entries(metadata);
  if (entries.length > 16) return { status: 400 };
  for (const [k, v] of entries) {
    if (typeof v !== 'string' || [...k].length > 64 || [...v].length > 512 || /\p{Cs}/u.test(k + v)) return { status: 400 };
  }
  return { status: 200, metadata };
}

describe('fuzz: request bodies', () => {
  const metadataValue = fc.oneof(
    { weight: 6, arbitrary: nastyString },
    fc.string({ minLength: 510, maxLength: 514 }),
    fc.jsonValue({ maxDepth: 2 }),
  );
  const metadata = fc.oneof(
    { weight: 6, arbitrary: fc.dictionary(fc.oneof(nastyString, fc.string({ minLength: 63, maxLength: 66 })), metadataValue, { maxKeys: 18 }) },
    fc.constant(null),
    fc.jsonValue({ maxDepth: 2 }),
  );
  const text = (s: string) => new TextEncoder().encode(s);
  const body = fc.oneof(
    { weight: 5, arbitrary: fc.record({ metadata }, { requiredKeys: [] }).map((b) => text(JSON.stringify(b))) },
    { weight: 2, arbitrary: fc.jsonValue().map((v) => text(JSON.stringify(v))) },
    fc.uint8Array({ maxLength: 64 }),
    fc.integer({ min: 120, max: 140 }).map((n) => text(`{"metadata":{},"x":${'['.repeat(n)}${']'.repeat(n)}}`)),
    fc.integer({ min: BODY_LIMIT - 40, max: BODY_LIMIT + 40 }).map((n) => text(`{"metadata":{"k":"v"},"pad":"${'x'.repeat(Math.max(0, n - 35))}"}`)),
    fc.constantFrom(...['', 'null', '"metadata"', '[]', '{"metadata":{"__proto__":"x"}}', '{"__proto__":{"metadata":{}}}', '{"metadata":{"k":"\\ud800"}}'].map(text)),
  );

  it('update: exactly the answer the contract gives for each body, and only the caller’s completion changes', async () => {
    const seeded = await seed();
    const target = [...seeded.alice.keys()].find((id) => id.startsWith('chatcmpl-both-'))!;
    await fc.assert(
      fc.asyncProperty(body, async (bytes) => {
        const res = await service.request(`/v1/chat/completions/${target}`, {
          key: KEYS.alice,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: bytes,
        });
        const { status, body: answer } = await readChecked(res);
        const expected = expectedUpdate(bytes);
        expect(status).toBe(expected.status);
        if (expected.status === 200) {
          expectOnlyAlice(answer);
          // Compared as JSON text: own `__proto__` keys and key order both count.
          expect(JSON.stringify(answer.metadata)).toBe(JSON.stringify(expected.metadata));
        }
      }),
      options,
    );
    // The id exists in bob's project too; none of this touched his copy.
    await expectBobUntouched(seeded);
  });

  it('create: any body gets the upstream’s answer or a 4xx in the shape, and stores only for the caller', async () => {
    const seeded = await seed();
    let n = 0;
    // Whatever the request, the provider answers: only our own handling of the body is under test.
    upstream.handler = (_request, res) => sendJson(res, 200, fakeCompletion({ model: 'fuzz', messages: [{ content: 'alice-secret' }] }, `chatcmpl-fuzz-${++n}`, 1_700_000_100));
    const createBody = fc.oneof(
      body,
      fc
        .record({ metadata, store: fc.oneof(fc.boolean(), fc.jsonValue({ maxDepth: 1 })), model: fc.jsonValue({ maxDepth: 1 }), messages: fc.jsonValue({ maxDepth: 3 }) }, { requiredKeys: [] })
        .map((b) => text(JSON.stringify(b))),
    );
    await fc.assert(
      fc.asyncProperty(createBody, async (bytes) => {
        const { status, body: answer } = await readChecked(
          await service.request('/v1/chat/completions', { key: KEYS.alice, method: 'POST', headers: { 'content-type': 'application/json' }, body: bytes }),
        );
        expect([200, 400, 413]).toContain(status);
        if (status === 200) expect(answer.object).toBe('chat.completion');
      }),
      options,
    );
    // Every completion the fuzz stored is alice's, and bob's project is as it was.
    const bobList = await service.client(KEYS.bob).chat.completions.list({ limit: 100 });
    expect(bobList.data.map((c) => c.id).sort()).toEqual([...seeded.bob.keys()].sort());
    for await (const completion of service.client(KEYS.alice).chat.completions.list({ limit: 100 })) {
      expect(completion.choices[0]!.message.content).toMatch(/alice-secret/);
    }
  });
});

describe('fuzz: the Authorization header', () => {
  it('anything but a configured bearer key is a 401 before any work; configured keys see only their project', async () => {
    const keyed = await startService({
      upstreamUrl: upstream.url,
      env: { API_KEYS: `${KEYS.alice}:alpha,${KEYS.bob}:beta`, UPSTREAM_API_KEY: 'sk-upstream' },
    });
    try {
      // Header values fetch can send: visible Latin-1, spaces and tabs inside.
      const headerChar = fc.oneof(
        fc.integer({ min: 0x20, max: 0x7e }),
        fc.integer({ min: 0xa0, max: 0xff }),
        fc.constant(0x09),
      ).map((c) => String.fromCharCode(c));
      const token = fc.oneof(
        fc.constantFrom(KEYS.alice, KEYS.bob, `${KEYS.alice}x`, KEYS.alice.slice(0, -1), 'sk-upstream', ''),
        fc.array(headerChar, { maxLength: 40 }).map((cs) => cs.join('')),
      );
      const header = fc.tuple(fc.constantFrom('Bearer ', 'bearer ', 'Bearer  ', 'Basic ', '', 'Bearer', 'Token '), token).map(([s, t]) => s + t);

      await fc.assert(
        fc.asyncProperty(header, fc.constantFrom('/v1/chat/completions', '/v1/chat/completions/chatcmpl-x', '/v1/models'), async (authorization, path) => {
          const res = await keyed.request(path, { headers: { authorization }, auth: false });
          const { status, body } = await readChecked(res);
          // HTTP drops the spaces around a header value; what is left is `Bearer <key>` (everything after the
          // scheme, spaces inside included, as OpenAI reads it) or not a bearer key at all.
          const key = /^bearer[ \t]+(.+)$/i.exec(authorization.replace(/^[ \t]+|[ \t]+$/g, ''))?.[1];
          if (key === KEYS.alice || key === KEYS.bob) {
            expect(status).not.toBe(401);
          } else if (key === undefined) {
            expect({ status, code: body.error.code }).toEqual({ status: 401, code: null });
          } else {
            expect(status).toBe(401);
            expect(body.error).toEqual({
              message: `Incorrect API key provided: ${maskKey(key)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
              type: 'invalid_request_error',
              param: null,
              code: 'invalid_api_key',
            });
          }
        }),
        options,
      );
      expect(upstream.received.every((r) => r.headers.authorization === 'Bearer sk-upstream')).toBe(true);
      expect(await keyed.countRows('projects')).toBe(0);
    } finally {
      await keyed.close();
    }
  });
});
