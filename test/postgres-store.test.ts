import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CompletionRecord, Store } from '../src/store/index.ts';
import { openTestStore, type TestStore } from './helpers/service.ts';

/**
 * What only a database shared by several instances can meet: an id another
 * instance stored (or deleted) since this one checked it. The store never
 * overwrites it and never fails: the completion gets a fresh id, its body says
 * so, and the caller learns it.
 */

let opened: TestStore;
let store: Store;

beforeEach(async () => {
  opened = await openTestStore('postgres');
  store = opened.store;
});

afterEach(async () => {
  await opened.close();
});

function record(id: string, content: string): CompletionRecord {
  return {
    id,
    created: 1_700_000_000,
    storedAt: 1_700_000_000,
    model: 'gpt-4o',
    requestedModel: 'gpt-4o',
    metadata: { content },
    body: JSON.stringify({ id, object: 'chat.completion', created: 1_700_000_000, model: 'gpt-4o' }),
    choices: [JSON.stringify({ index: 0, message: { role: 'assistant', content } })],
    messages: [JSON.stringify({ role: 'user', content })],
  };
}

const FRESH_ID = /^chatcmpl-[A-Za-z0-9]{29}$/;

describe('ids taken meanwhile, on PostgreSQL', () => {
  it('stores a completion whose id is already stored under a fresh one, with its own rows, and says which', async () => {
    expect(await store.saveCompletion('p', record('chatcmpl-same', 'first'))).toBe('chatcmpl-same');
    const second = await store.saveCompletion('p', record('chatcmpl-same', 'second'));
    expect(second).toMatch(FRESH_ID);
    expect(JSON.parse((await store.getCompletion('p', second))!.body).id).toBe(second);
    expect((await store.getCompletion('p', second))!.choices).toContain('second');
    expect((await store.getCompletion('p', 'chatcmpl-same'))!.choices).toContain('first');
    expect((await store.listMessages('p', second, { after: undefined, limit: 10, order: 'asc' }))!.items).toEqual([
      { idx: 0, body: JSON.stringify({ role: 'user', content: 'second' }) },
    ]);
  });

  it('gives the second of two writes of one id in one batch a fresh id, and a deleted id a fresh one too', async () => {
    await store.saveCompletion('p', record('chatcmpl-gone', 'deleted'));
    await store.deleteCompletion('p', 'chatcmpl-gone');
    const ids = await store.saveCompletionBatch([
      ['p', record('chatcmpl-twice', 'one')],
      ['p', record('chatcmpl-twice', 'two')],
      ['p', record('chatcmpl-gone', 'again')],
      ['q', record('chatcmpl-twice', 'other project')],
    ]);
    expect(ids[0]).toBe('chatcmpl-twice');
    expect(ids[1]).toMatch(FRESH_ID);
    expect(ids[2]).toMatch(FRESH_ID);
    expect(ids[3]).toBe('chatcmpl-twice');
    const page = await store.listCompletions('p', { after: undefined, limit: 10, order: 'asc', model: undefined, metadata: [] });
    expect(page.items.map((row) => row.metadata).sort()).toEqual(['{"content":"again"}', '{"content":"one"}', '{"content":"two"}']);
    expect(await opened.countRows('choices')).toBe(4);
    expect(await opened.countRows('metadata')).toBe(4);
  });
});
