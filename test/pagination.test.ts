import { randomBytes } from 'node:crypto';
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.ts';
import { assertMatchesSchema } from './helpers/openai-schema.ts';
import { idsInListOrder, type MadeCompletion } from './helpers/list-order.ts';
import { startService, type Service } from './helpers/service.ts';

/**
 * 230 stored completions, 210 of them in one `created` second, with ids in
 * random order, so only the (created, id) keyset can page them right.
 * Read-only tests share this set; tests that delete build their own service.
 */
type Made = MadeCompletion;

let upstream: FakeUpstream;
let service: Service;
const made: Made[] = [];

const MODELS = ['model-a', 'model-b', 'model-c'];

function randomId(): string {
  return `chatcmpl-${randomBytes(12).toString('base64url')}`;
}

async function seed(target: Service, fake: FakeUpstream, into: Made[]): Promise<void> {
  const client = target.client();
  const batches: [created: number, count: number][] = [
    [1_700_000_001, 10],
    [1_700_000_000, 210],
    [1_699_999_999, 10],
  ];
  let i = 0;
  for (const [created, count] of batches) {
    fake.created = created;
    for (let k = 0; k < count; k++, i++) {
      const id = randomId();
      fake.nextIds.push(id);
      const requestedModel = MODELS[i % 3]!;
      const metadata: Record<string, string> = i % 10 === 9 ? {} : { user: `u${i % 4}`, env: i % 2 === 0 ? 'prod' : 'dev' };
      into.push({ id, created, requestedModel, model: `${requestedModel}-2024-01-01`, metadata });
      // One at a time, so the fake upstream hands out ids in the order recorded here.
      await client.chat.completions.create({ model: requestedModel, messages: [{ role: 'user', content: `n${i}` }], store: true, metadata });
    }
  }
}

beforeAll(async () => {
  upstream = await startFakeUpstream();
  service = await startService({ upstreamUrl: upstream.url });
  await seed(service, upstream, made);
});

afterAll(async () => {
  await service.close();
  await upstream.close();
});

function expectedIds(filter: (m: Made) => boolean, order: 'asc' | 'desc', from: Made[] = made): string[] {
  return idsInListOrder(from, filter, order);
}

async function collect(client: OpenAI, query: OpenAI.Chat.Completions.ChatCompletionListParams): Promise<string[]> {
  const ids: string[] = [];
  for await (const completion of client.chat.completions.list(query)) ids.push(completion.id);
  return ids;
}

const shapes: [name: string, query: Omit<OpenAI.Chat.Completions.ChatCompletionListParams, 'order' | 'limit'>, filter: (m: Made) => boolean][] = [
  ['no filter', {}, () => true],
  ['the requested model', { model: 'model-a' }, (m) => m.requestedModel === 'model-a'],
  ['the responded model', { model: 'model-b-2024-01-01' }, (m) => m.model === 'model-b-2024-01-01'],
  ['one metadata pair', { metadata: { user: 'u1' } }, (m) => m.metadata.user === 'u1'],
  ['two metadata pairs', { metadata: { user: 'u2', env: 'prod' } }, (m) => m.metadata.user === 'u2' && m.metadata.env === 'prod'],
  ['two pairs that never meet', { metadata: { user: 'u1', env: 'prod' } }, () => false],
  ['a model and a pair', { model: 'model-c', metadata: { env: 'dev' } }, (m) => m.requestedModel === 'model-c' && m.metadata.env === 'dev'],
];

describe('get /v1/chat/completions pagination', () => {
  for (const order of ['asc', 'desc'] as const) {
    for (const [name, query, filter] of shapes) {
      it(`auto-pages ${name} in ${order} order, each match exactly once`, async () => {
        const ids = await collect(service.client(), { ...query, order, limit: 7 });
        expect(ids).toEqual(expectedIds(filter, order));
      });
    }
  }

  it('defaults to asc order and 20 items, with has_more exact on every page', async () => {
    const all = expectedIds(() => true, 'asc');
    let after: string | undefined;
    const pages: unknown[][] = [];
    for (;;) {
      const res = await service.request(`/v1/chat/completions${after ? `?after=${after}` : ''}`);
      expect(res.status).toBe(200);
      const page = await res.json();
      assertMatchesSchema('ChatCompletionList', page);
      pages.push(page.data);
      const ids = page.data.map((c: { id: string }) => c.id);
      expect(page.first_id).toBe(ids[0]);
      expect(page.last_id).toBe(ids.at(-1));
      // has_more is true exactly when something is left: python's client would otherwise ask once more.
      expect(page.has_more).toBe(pages.flat().length < all.length);
      if (!page.has_more) break;
      after = page.last_id;
    }
    expect(pages.map((p) => p.length)).toEqual([20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 10]);
    expect(pages.flat().map((c) => (c as { id: string }).id)).toEqual(all);
  });

  it('serves each listed item exactly as retrieve does', async () => {
    const page = await (await service.request('/v1/chat/completions?limit=3&order=desc')).json();
    for (const item of page.data) {
      const one = await (await service.request(`/v1/chat/completions/${item.id}`)).json();
      expect(item).toEqual(one);
    }
  });

  it('returns an empty page with null ids after the last item', async () => {
    const last = expectedIds(() => true, 'asc').at(-1)!;
    const res = await service.request(`/v1/chat/completions?after=${last}`);
    expect(await res.json()).toEqual({ object: 'list', data: [], first_id: null, last_id: null, has_more: false });
  });

  it('treats a bare metadata= (the node client sending metadata: null) as no filter', async () => {
    const res = await service.request('/v1/chat/completions?metadata=&limit=100');
    const page = await res.json();
    expect(page.data.map((c: { id: string }) => c.id)).toEqual(expectedIds(() => true, 'asc').slice(0, 100));
  });

  it('decodes metadata filters sent the way openai-python sends them', async () => {
    const res = await service.request('/v1/chat/completions?metadata[user]=u3&metadata[env]=dev&limit=100');
    const page = await res.json();
    expect(page.data.map((c: { id: string }) => c.id)).toEqual(
      expectedIds((m) => m.metadata.user === 'u3' && m.metadata.env === 'dev', 'asc'),
    );
  });

  it('refuses an after that was never stored', async () => {
    const res = await service.request('/v1/chat/completions?after=chatcmpl-never');
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: { message: "Invalid 'after': no chat completion found with id 'chatcmpl-never'.", type: 'invalid_request_error', param: 'after', code: null },
    });
  });
});

describe('get /v1/chat/completions after a deletion', () => {
  it('continues from a cursor whose completion was deleted since', async () => {
    const fake = await startFakeUpstream();
    const own = await startService({ upstreamUrl: fake.url });
    try {
      const mine: Made[] = [];
      await seed(own, fake, mine);
      const client = own.client();
      for (const order of ['asc', 'desc'] as const) {
        const all = expectedIds(() => true, order, mine);
        const first = await client.chat.completions.list({ order, limit: 50 });
        const cursor = first.data.at(-1)!.id;
        await client.chat.completions.delete(cursor);
        mine.splice(mine.findIndex((m) => m.id === cursor), 1);
        const rest = await collect(client, { order, limit: 9, after: cursor });
        expect(rest).toEqual(all.slice(50));
      }
    } finally {
      await own.close();
      await fake.close();
    }
  });
});
