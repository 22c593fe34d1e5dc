import type { ChatCompletionListParams } from 'openai/resources/chat/completions';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.ts';
import { startService, type Service } from './helpers/service.ts';

/**
 * The isolation matrix: in both tenancy modes, every stored-completion endpoint,
 * every combination of the project that owns a completion and the key that asks.
 * A completion of another project must behave exactly as if it did not exist.
 */

type Caller = 'alice' | 'alice2' | 'bob';

const KEYS: Record<Caller, string> = {
  alice: 'sk-alice-000000000000000001',
  alice2: 'sk-alice-000000000000000002',
  bob: 'sk-bob-0000000000000000003',
};

interface Mode {
  name: string;
  env: Record<string, string>;
  /** Which callers share a project: in pass-through mode every key is its own project. */
  project: Record<Caller, string>;
}

const MODES: Mode[] = [
  { name: 'pass-through mode', env: {}, project: { alice: 'a', alice2: 'a2', bob: 'b' } },
  {
    name: 'API_KEYS mode',
    env: {
      API_KEYS: `${KEYS.alice}:alpha,${KEYS.alice2}:alpha,${KEYS.bob}:beta`,
      UPSTREAM_API_KEY: 'sk-upstream-secret',
    },
    project: { alice: 'alpha', alice2: 'alpha', bob: 'beta' },
  },
];

const CALLERS: Caller[] = ['alice', 'alice2', 'bob'];

function notFound(id: string) {
  return { error: { message: `No chat completion found with id '${id}'.`, type: 'invalid_request_error', param: null, code: null } };
}

function unknownCursor(id: string) {
  return {
    error: { message: `Invalid 'after': no chat completion found with id '${id}'.`, type: 'invalid_request_error', param: 'after', code: null },
  };
}

const messages = [
  { role: 'system' as const, content: 'Be brief.' },
  { role: 'user' as const, content: 'Hello' },
];

interface Endpoint {
  name: string;
  /** Mutating endpoints can succeed once; the rest answer every caller of the owning project. */
  mutates: boolean;
  call(service: Service, caller: Caller, id: string): Promise<Response>;
  /** The body a caller of the owning project gets. */
  expected(stored: Record<string, unknown>, id: string): unknown;
}

const ENDPOINTS: Endpoint[] = [
  {
    name: 'retrieve',
    mutates: false,
    call: (service, caller, id) => service.request(`/v1/chat/completions/${id}`, { key: KEYS[caller] }),
    expected: (stored) => stored,
  },
  {
    name: 'update',
    mutates: false,
    call: (service, caller, id) =>
      service.request(`/v1/chat/completions/${id}`, {
        key: KEYS[caller],
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ metadata: { touched: 'yes' } }),
      }),
    expected: (stored) => ({ ...stored, metadata: { touched: 'yes' } }),
  },
  {
    name: 'delete',
    mutates: true,
    call: (service, caller, id) => service.request(`/v1/chat/completions/${id}`, { key: KEYS[caller], method: 'DELETE' }),
    expected: (_stored, id) => ({ object: 'chat.completion.deleted', id, deleted: true }),
  },
  {
    name: 'messages',
    mutates: false,
    call: (service, caller, id) => service.request(`/v1/chat/completions/${id}/messages`, { key: KEYS[caller] }),
    expected: (_stored, id) => ({
      object: 'list',
      data: messages.map((m, i) => ({ id: `${id}-${i}`, role: m.role, content: m.content, refusal: null, name: null, content_parts: null })),
      first_id: `${id}-0`,
      last_id: `${id}-1`,
      has_more: false,
    }),
  },
  {
    name: 'messages with a cursor',
    mutates: false,
    call: (service, caller, id) => service.request(`/v1/chat/completions/${id}/messages?after=${id}-0`, { key: KEYS[caller] }),
    expected: (_stored, id) => ({
      object: 'list',
      data: [{ id: `${id}-1`, role: 'user', content: 'Hello', refusal: null, name: null, content_parts: null }],
      first_id: `${id}-1`,
      last_id: `${id}-1`,
      has_more: false,
    }),
  },
];

describe.each(MODES)('$name', (mode) => {
  let upstream: FakeUpstream;
  let service: Service;

  beforeEach(async () => {
    upstream = await startFakeUpstream();
    service = await startService({ upstreamUrl: upstream.url, env: mode.env });
  });

  afterEach(async () => {
    await service.close();
    await upstream.close();
  });

  const sameProject = (a: Caller, b: Caller) => mode.project[a] === mode.project[b];

  /** Creates one stored completion as `caller`; returns its id. */
  async function create(caller: Caller, metadata: Record<string, string> = {}, model = 'gpt-4o'): Promise<string> {
    const completion = await service.client(KEYS[caller]).chat.completions.create({ model, messages, store: true, metadata });
    return completion.id;
  }

  async function retrieveJson(caller: Caller, id: string): Promise<Record<string, unknown>> {
    const res = await service.request(`/v1/chat/completions/${id}`, { key: KEYS[caller] });
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as Record<string, unknown>;
  }

  for (const endpoint of ENDPOINTS) {
    for (const owner of CALLERS) {
      it(`${endpoint.name}: a completion of ${owner}'s project answers only callers of that project`, async () => {
        // Every caller has stored something, so each has a project of its own in the database to confuse.
        for (const caller of CALLERS) await create(caller, { owner: caller });
        const id = await create(owner, { owner });
        const stored = await retrieveJson(owner, id);
        const outsiders = CALLERS.filter((c) => !sameProject(owner, c));
        const insiders = CALLERS.filter((c) => sameProject(owner, c));

        for (const caller of outsiders) {
          const res = await endpoint.call(service, caller, id);
          expect(res.status, `${caller} on ${owner}'s completion`).toBe(404);
          expect(await res.json()).toEqual(notFound(id));
        }
        // Nothing an outsider did touched the completion.
        expect(await retrieveJson(owner, id)).toEqual(stored);

        for (const caller of endpoint.mutates ? insiders.slice(-1) : insiders) {
          const res = await endpoint.call(service, caller, id);
          expect(res.status, `${caller} on ${owner}'s completion`).toBe(200);
          expect(await res.json()).toEqual(endpoint.expected(stored, id));
        }
      });
    }
  }

  it('list shows each caller exactly its project, with and without filters, in both orders', async () => {
    const ids: Record<Caller, string[]> = { alice: [], alice2: [], bob: [] };
    for (const caller of CALLERS) {
      ids[caller].push(await create(caller, { env: 'prod', who: caller }, 'gpt-4o'));
      ids[caller].push(await create(caller, { env: 'prod', who: caller }, 'gpt-4o-mini'));
    }
    for (const caller of CALLERS) {
      const visible = CALLERS.filter((c) => sameProject(caller, c)).flatMap((c) => ids[c]);
      const client = service.client(KEYS[caller]);
      const listIds = async (query: ChatCompletionListParams) => {
        const seen: string[] = [];
        for await (const completion of client.chat.completions.list(query)) seen.push(completion.id);
        return seen;
      };
      expect(await listIds({})).toEqual(visible);
      expect(await listIds({ limit: 1 })).toEqual(visible);
      expect(await listIds({ order: 'desc', limit: 2 })).toEqual([...visible].reverse());
      expect(await listIds({ metadata: { env: 'prod' } })).toEqual(visible);
      expect(await listIds({ metadata: { env: 'prod' }, model: 'gpt-4o-mini' })).toEqual(visible.filter((_, i) => i % 2 === 1));
      for (const other of CALLERS) {
        const expected = sameProject(caller, other) ? ids[other] : [];
        expect(await listIds({ metadata: { who: other } }), `${caller} filtering on ${other}`).toEqual(expected);
      }
    }
  });

  it("a cursor from another project is a 400 exactly like an unknown cursor, on list and on messages", async () => {
    const aliceId = await create('alice');
    const bobId = await create('bob');
    for (const [caller, foreign] of [['alice', bobId], ['bob', aliceId]] as const) {
      const res = await service.request(`/v1/chat/completions?after=${foreign}`, { key: KEYS[caller] });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual(unknownCursor(foreign));
      const never = await service.request('/v1/chat/completions?after=chatcmpl-never-stored', { key: KEYS[caller] });
      expect(never.status).toBe(400);
      expect(await never.json()).toEqual(unknownCursor('chatcmpl-never-stored'));
    }
    // A foreign message id on one's own completion is as unknown as any other.
    const res = await service.request(`/v1/chat/completions/${aliceId}/messages?after=${bobId}-0`, { key: KEYS.alice });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: {
        message: `Invalid 'after': no message found with id '${bobId}-0' in chat completion '${aliceId}'.`,
        type: 'invalid_request_error',
        param: 'after',
        code: null,
      },
    });
    // A caller that has stored nothing gets the same 400, not an empty page.
    const empty = await service.request(`/v1/chat/completions?after=${aliceId}`, { key: 'sk-nobody-0000000000000009' });
    if (mode.env.API_KEYS) {
      expect(empty.status).toBe(401);
    } else {
      expect(empty.status).toBe(400);
      expect(await empty.json()).toEqual(unknownCursor(aliceId));
    }
  });

  it('two projects hold the same completion id without touching each other', async () => {
    upstream.nextIds = ['chatcmpl-same', 'chatcmpl-same', 'chatcmpl-same'];
    const first = await create('alice', { holder: 'alice' });
    const second = await create('bob', { holder: 'bob' });
    const third = await create('alice2', { holder: 'alice2' });
    expect(first).toBe('chatcmpl-same');
    expect(second).toBe('chatcmpl-same');
    // Within one project the id is taken, so a member of alice's project gets a fresh one.
    if (sameProject('alice', 'alice2')) expect(third).toMatch(/^chatcmpl-[A-Za-z0-9]{29}$/);
    else expect(third).toBe('chatcmpl-same');

    const bobBefore = await retrieveJson('bob', 'chatcmpl-same');
    expect(bobBefore.metadata).toEqual({ holder: 'bob' });
    expect((await retrieveJson('alice', 'chatcmpl-same')).metadata).toEqual({ holder: 'alice' });

    const alice = service.client(KEYS.alice);
    await alice.chat.completions.update('chatcmpl-same', { metadata: { holder: 'alice', changed: 'yes' } });
    expect(await retrieveJson('bob', 'chatcmpl-same')).toEqual(bobBefore);

    expect(await alice.chat.completions.delete('chatcmpl-same')).toEqual({ object: 'chat.completion.deleted', id: 'chatcmpl-same', deleted: true });
    expect(await retrieveJson('bob', 'chatcmpl-same')).toEqual(bobBefore);
    const bobMessages = await service.client(KEYS.bob).chat.completions.messages.list('chatcmpl-same');
    expect(bobMessages.data.map((m) => m.id)).toEqual(['chatcmpl-same-0', 'chatcmpl-same-1']);
    const bobList = await service.client(KEYS.bob).chat.completions.list({ metadata: { holder: 'bob' } });
    expect(bobList.data.map((c) => c.id)).toEqual(['chatcmpl-same']);
    // Bob can still delete his own copy: alice's delete did not take it.
    expect((await service.client(KEYS.bob).chat.completions.delete('chatcmpl-same')).deleted).toBe(true);
  });
});
