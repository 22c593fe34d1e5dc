import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toCompletionRecord } from '../src/wire.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.ts';
import { startService, type Service } from './helpers/service.ts';
import { projectOf } from './helpers/source-service.ts';
import { storeJsonWhole } from './helpers/whole-stored-json.ts';

/**
 * The list page is put together apart from the retrieve endpoint (on SQLite, in SQL and served as
 * bytes): every page must be, byte for byte, the envelope around the completions exactly as
 * retrieve serves them, whatever their text holds.
 */

let upstream: FakeUpstream;
let service: Service;

/** In (created, id) order. */
const IDS = [
  'chatcmpl-plain',
  'chatcmpl-unicode',
  'chatcmpl-escapes',
  'chatcmpl-no-choices',
  'chatcmpl-three-choices',
  'chatcmpl-nested-last',
  // Quotes and a backslash in the id: its JSON differs from the id, so the body is stored with its head.
  'chatcmpl-"quoted"\\id',
];

function responseOf(id: string, n: number): Record<string, unknown> {
  const reply = (content: string, index = 0) => ({ index, message: { role: 'assistant', content }, finish_reason: 'stop' });
  const choices: Record<string, unknown[]> = {
    'chatcmpl-unicode': [reply('Grüße 👋 — 日本語, and a lone-looking \ud83d\ude00 pair')],
    'chatcmpl-escapes': [reply('quote " backslash \\ newline \n tab \t control \u0001 </script> \u2028 lone \ud800 and \udfff halves')],
    'chatcmpl-no-choices': [],
    'chatcmpl-three-choices': [reply('second', 1), reply('first', 0), reply('third', 2)],
  };
  return {
    id,
    object: 'chat.completion',
    created: 1_700_000_000 + n,
    // A model whose text is not ASCII: the body's head is rebuilt from the row's columns.
    model: id === 'chatcmpl-unicode' ? 'mödel-ü' : 'gpt-4o-2024-08-06',
    choices: choices[id] ?? [reply(`answer ${n}`)],
    usage: { prompt_tokens: n, completion_tokens: 1, total_tokens: n + 1 },
  };
}

beforeAll(async () => {
  upstream = await startFakeUpstream();
  // A search walks at most 3 entries before sorting its matches instead: a small database reaches both ways.
  service = await startService({ upstreamUrl: upstream.url, storeOptions: { searchSortThreshold: 1, searchWalkLimit: 3, searchWalkFill: 0 } });
  const project = await projectOf(service, 'sk-test-key-0001');
  for (const [n, id] of IDS.entries()) {
    await service.store.saveCompletion(
      project,
      toCompletionRecord({
        // response_format last: the stored body ends with a nested object's brace too.
        request: { model: 'gpt-4o', messages: [{ role: 'user', content: `q${n}` }], response_format: n === 5 ? { type: 'json_object' } : undefined },
        response: responseOf(id, n),
        id,
        requestId: `req_${n}`,
        metadata: n === 2 ? { 'k"ey\\': 'va"l\\ue\n', emoji: '👋' } : n === 1 ? { city: 'Zürich' } : {},
        now: 1_700_000_100,
      }),
    );
  }
});

afterAll(async () => {
  await service?.close();
  await upstream?.close();
});

async function retrieved(id: string): Promise<string> {
  const res = await service.request(`/v1/chat/completions/${encodeURIComponent(id)}`);
  expect(res.status).toBe(200);
  return res.text();
}

/** The page the list must serve: retrieve's bytes of each id, in the envelope. */
async function expectedPage(ids: string[], hasMore: boolean): Promise<Buffer> {
  const items = await Promise.all(ids.map(retrieved));
  const envelope = `{"object":"list","data":[${items.join(',')}],"first_id":${JSON.stringify(ids[0] ?? null)},"last_id":${JSON.stringify(ids.at(-1) ?? null)},"has_more":${hasMore}}`;
  return Buffer.from(envelope);
}

async function listed(query: string, key?: string): Promise<Buffer> {
  const res = await service.request(`/v1/chat/completions?${query}`, key ? { key } : {});
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/json');
  const bytes = Buffer.from(await res.arrayBuffer());
  expect(res.headers.get('content-length')).toBe(String(bytes.length));
  return bytes;
}

describe('list pages, byte for byte', () => {
  it('serves every completion as retrieve does: unicode, escapes, no choices, choices in index order, a body kept with its head', async () => {
    expect((await listed('limit=100')).toString()).toBe((await expectedPage(IDS, false)).toString());
    expect(await listed('limit=100&order=desc')).toEqual(await expectedPage([...IDS].reverse(), false));
  });

  it('has_more exact at the limit: a full last page says false, one item fewer says true', async () => {
    expect(await listed(`limit=${IDS.length}`)).toEqual(await expectedPage(IDS, false));
    expect(await listed(`limit=${IDS.length - 1}`)).toEqual(await expectedPage(IDS.slice(0, -1), true));
    expect(await listed('limit=1&order=desc')).toEqual(await expectedPage([IDS.at(-1)!], true));
    expect(await listed(`limit=1&after=${encodeURIComponent(IDS.at(-2)!)}`)).toEqual(await expectedPage([IDS.at(-1)!], false));
  });

  it('pages through with cursors to the same bytes', async () => {
    const pages: Buffer[] = [];
    for (let start = 0; start < IDS.length; start += 3) {
      const after = start === 0 ? '' : `&after=${encodeURIComponent(IDS[start - 1]!)}`;
      const page = await listed(`limit=3${after}`);
      expect(page).toEqual(await expectedPage(IDS.slice(start, start + 3), start + 3 < IDS.length));
      pages.push(page);
    }
    expect(pages).toHaveLength(3);
  });

  it('serves empty pages: a project with nothing stored, and a filter nothing matches', async () => {
    const empty = Buffer.from('{"object":"list","data":[],"first_id":null,"last_id":null,"has_more":false}');
    expect(await listed('limit=20', 'sk-test-key-nothing-stored')).toEqual(empty);
    expect(await listed('model=no-such-model')).toEqual(empty);
    expect(await listed(`after=${encodeURIComponent(IDS.at(-1)!)}`)).toEqual(empty);
  });

  it('serves filtered and searched pages as retrieve does: a metadata value not ASCII, a model, a search walked then sorted', async () => {
    expect(await listed(`metadata[city]=${encodeURIComponent('Zürich')}`)).toEqual(await expectedPage(['chatcmpl-unicode'], false));
    expect(await listed(`metadata[emoji]=${encodeURIComponent('👋')}&order=desc`)).toEqual(await expectedPage(['chatcmpl-escapes'], false));
    expect(await listed(`model=${encodeURIComponent('mödel-ü')}`)).toEqual(await expectedPage(['chatcmpl-unicode'], false));
    // `answer` is in the newest two and the first: walked newest first, 3 entries find two of them, so the matches are sorted.
    const answered = ['chatcmpl-plain', 'chatcmpl-nested-last', 'chatcmpl-"quoted"\\id'];
    expect(await listed('search=answer&order=desc')).toEqual(await expectedPage([...answered].reverse(), false));
    expect(await listed('search=answer&order=desc&limit=2')).toEqual(await expectedPage(answered.slice(1).reverse(), true));
    expect(await listed('search=answer&limit=2')).toEqual(await expectedPage(answered.slice(0, 2), true));
    expect(await listed(`search=answer&after=${encodeURIComponent(answered[0]!)}`)).toEqual(await expectedPage(answered.slice(1), false));
  });

  it('serves the same bytes from bodies stored whole (written before migration 0007)', async (context) => {
    if (service.backend !== 'sqlite') return context.skip();
    const before = await listed('limit=100');
    storeJsonWhole(service.db);
    expect(await listed('limit=100')).toEqual(before);
    expect(await listed('limit=100')).toEqual(await expectedPage(IDS, false));
  });
});
