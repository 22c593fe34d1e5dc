import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.ts';
import { createMetrics } from '../src/metrics.ts';
import { createRetention } from '../src/retention.ts';
import type { CompletionRecord } from '../src/store/index.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.ts';
import { startService, type Service } from './helpers/service.ts';

let upstream: FakeUpstream;
let service: Service;

beforeEach(async () => {
  upstream = await startFakeUpstream();
  // Two projects, so the sweep is shown to cross them.
  service = await startService({ upstreamUrl: upstream.url, env: { API_KEYS: 'sk-a-000001:team-a,sk-b-000001:team-b' } });
});

afterEach(async () => {
  await service.close();
  await upstream.close();
});

const DAY = 86_400;
/** The injected clock: 2027-01-15T08:00:00Z. */
const NOW_SECONDS = 1_800_000_000;
const now = () => NOW_SECONDS * 1000;
const logger = createLogger('silent');

/** A completion stored at `storedAt`; the provider's `created` is the same unless given. */
function record(id: string, storedAt: number, created = storedAt): CompletionRecord {
  return {
    id,
    created,
    storedAt,
    model: 'gpt-4o-2024-08-06',
    requestedModel: 'gpt-4o',
    metadata: { user: `u-${id}`, env: 'prod' },
    body: JSON.stringify({ id, object: 'chat.completion', created, model: 'gpt-4o-2024-08-06' }),
    choices: [JSON.stringify({ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop', logprobs: null })],
    messages: [JSON.stringify({ role: 'system', content: 'x' }), JSON.stringify({ role: 'user', content: 'y' })],
  };
}

async function rowCounts(): Promise<Record<string, number>> {
  const counts: [string, number][] = [];
  for (const table of ['completions', 'input_messages', 'metadata', 'completion_models', 'deleted_completions']) {
    counts.push([table, await service.countRows(table)]);
  }
  return Object.fromEntries(counts);
}

async function listIds(key: string): Promise<string[]> {
  const res = await service.request('/v1/chat/completions?limit=100', { key });
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: { id: string }[] }).data.map((c) => c.id);
}

describe('retention', () => {
  it('deletes completions older than RETENTION_DAYS with all their rows, across projects, in batches, each leaving a tombstone as a delete does', async () => {
    const cutoff = NOW_SECONDS - 30 * DAY;
    // 1,203 expired completions: more than two batches of 500.
    const expired = (project: string, n: number) => Array.from({ length: n }, (_, i) => record(`chatcmpl-old-${project}-${i}`, cutoff - 1 - i));
    await service.store.saveCompletions('team-a', expired('a', 700));
    await service.store.saveCompletions('team-b', expired('b', 503));
    await service.store.saveCompletions('team-a', [record('chatcmpl-edge-a', cutoff), record('chatcmpl-new-a', NOW_SECONDS - DAY)]);
    await service.store.saveCompletions('team-b', [record('chatcmpl-new-b', NOW_SECONDS)]);
    expect(await rowCounts()).toEqual({
      completions: 1206,
      input_messages: 2412,
      metadata: 2412,
      completion_models: 2412,
      deleted_completions: 0,
    });

    const metrics = createMetrics();
    const retention = createRetention({ store: service.store, retentionDays: 30, logger, metrics, now, batchSize: 500 });
    expect(await retention.sweep()).toBe(1203);

    // Stored exactly at the cutoff is not older than 30 days: kept.
    expect(await listIds('sk-a-000001')).toEqual(['chatcmpl-edge-a', 'chatcmpl-new-a']);
    expect(await listIds('sk-b-000001')).toEqual(['chatcmpl-new-b']);
    expect(await rowCounts()).toEqual({
      completions: 3,
      input_messages: 6,
      metadata: 6,
      completion_models: 6,
      deleted_completions: 1203,
    });
    const gone = await service.request('/v1/chat/completions/chatcmpl-old-a-0', { key: 'sk-a-000001' });
    expect(gone.status).toBe(404);
    const filtered = await service.request('/v1/chat/completions?metadata[user]=u-chatcmpl-old-b-7', { key: 'sk-b-000001' });
    expect(await filtered.json()).toEqual({ object: 'list', data: [], first_id: null, last_id: null, has_more: false });
    expect(await metrics.registry.getSingleMetricAsString('retention_deleted_completions_total')).toContain(
      'retention_deleted_completions_total 1203',
    );

    expect(await retention.sweep()).toBe(0);
  });

  it('follows the clock: what was recent expires once time moves on', async () => {
    await service.store.saveCompletions('team-a', [record('chatcmpl-day-0', NOW_SECONDS), record('chatcmpl-day-5', NOW_SECONDS + 5 * DAY)]);
    let clock = NOW_SECONDS;
    const retention = createRetention({ store: service.store, retentionDays: 7, logger, now: () => clock * 1000 });
    expect(await retention.sweep()).toBe(0);
    clock = NOW_SECONDS + 7 * DAY + 1;
    expect(await retention.sweep()).toBe(1);
    expect(await listIds('sk-a-000001')).toEqual(['chatcmpl-day-5']);
  });

  it('ages by when the completion was stored, not by the provider created', async () => {
    await service.store.saveCompletions('team-a', [
      record('chatcmpl-old-created', NOW_SECONDS, 1_000),
      record('chatcmpl-future-created', NOW_SECONDS - 40 * DAY, NOW_SECONDS + 400 * DAY),
    ]);
    const retention = createRetention({ store: service.store, retentionDays: 30, logger, now });
    expect(await retention.sweep()).toBe(1);
    expect(await listIds('sk-a-000001')).toEqual(['chatcmpl-old-created']);
  });

  it('keeps everything with RETENTION_DAYS=0', async () => {
    await service.store.saveCompletions('team-a', [record('chatcmpl-ancient', 1)]);
    const retention = createRetention({ store: service.store, retentionDays: 0, logger, now });
    expect(await retention.sweep()).toBe(0);
    retention.start();
    retention.stop();
    expect(await listIds('sk-a-000001')).toEqual(['chatcmpl-ancient']);
  });

  it('keeps an expired id a valid cursor, as a deleted one: an oldest-first walk goes on across the sweep', async () => {
    await service.store.saveCompletions('team-a', [
      record('chatcmpl-expired-1', NOW_SECONDS - 41 * DAY),
      record('chatcmpl-expired-2', NOW_SECONDS - 40 * DAY),
      record('chatcmpl-deleted', NOW_SECONDS - 2 * DAY),
      record('chatcmpl-kept', NOW_SECONDS - DAY),
    ]);
    // A client walks oldest first, one per page: its cursor names the first expired completion.
    const first = await service.request('/v1/chat/completions?order=asc&limit=1', { key: 'sk-a-000001' });
    expect(((await first.json()) as { data: { id: string }[] }).data.map((c) => c.id)).toEqual(['chatcmpl-expired-1']);
    expect(await service.store.deleteCompletion('team-a', 'chatcmpl-deleted')).toBe(true);
    expect(await createRetention({ store: service.store, retentionDays: 30, logger, now }).sweep()).toBe(2);

    for (const after of ['chatcmpl-expired-1', 'chatcmpl-expired-2', 'chatcmpl-deleted']) {
      const page = await service.request(`/v1/chat/completions?order=asc&after=${after}`, { key: 'sk-a-000001' });
      expect(page.status).toBe(200);
      expect(await page.json()).toEqual({
        object: 'list',
        data: [expect.objectContaining({ id: 'chatcmpl-kept' })],
        first_id: 'chatcmpl-kept',
        last_id: 'chatcmpl-kept',
        has_more: false,
      });
    }
    const newestFirst = await service.request('/v1/chat/completions?order=desc&after=chatcmpl-expired-2', { key: 'sk-a-000001' });
    expect(await newestFirst.json()).toEqual({ object: 'list', data: [], first_id: null, last_id: null, has_more: false });
    // The id stays taken: a provider that hands it out again gets a fresh one for the new completion.
    expect(await service.store.isIdTaken('team-a', 'chatcmpl-expired-1')).toBe(true);
    expect(await service.store.isIdTaken('team-b', 'chatcmpl-expired-1')).toBe(false);
    expect(await service.request('/v1/chat/completions/chatcmpl-expired-1', { key: 'sk-a-000001' }).then((r) => r.status)).toBe(404);
  });

  it('lets the tombstone of an expired completion go one window after: the file stops growing; an explicit delete\'s stays', async () => {
    await service.store.saveCompletions('team-a', [
      record('chatcmpl-expired', NOW_SECONDS - 31 * DAY),
      record('chatcmpl-deleted', NOW_SECONDS - 2 * DAY),
      record('chatcmpl-kept', NOW_SECONDS - DAY),
    ]);
    expect(await service.store.deleteCompletion('team-a', 'chatcmpl-deleted')).toBe(true);
    const metrics = createMetrics();
    let clock = NOW_SECONDS;
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line)) });
    const retention = createRetention({ store: service.store, retentionDays: 30, logger, metrics, now: () => clock * 1000 });
    expect(await retention.sweep()).toBe(1);
    // One window on (less a minute): the first expired one's tombstone still stands, its cursor pages on.
    clock = NOW_SECONDS + 30 * DAY - 60;
    expect(await retention.sweep()).toBe(1);
    expect((await service.request('/v1/chat/completions?order=asc&after=chatcmpl-expired', { key: 'sk-a-000001' })).status).toBe(200);
    expect(await rowCounts()).toMatchObject({ completions: 0, deleted_completions: 3 });

    // Past it, it goes: a cursor naming it is as unknown as a never-stored id, and a provider may hand the id out again.
    clock = NOW_SECONDS + 30 * DAY + 60;
    expect(await retention.sweep()).toBe(0);
    expect(await rowCounts()).toMatchObject({ completions: 0, deleted_completions: 2 });
    const page = await service.request('/v1/chat/completions?order=asc&after=chatcmpl-expired', { key: 'sk-a-000001' });
    expect(page.status).toBe(400);
    expect(await page.json()).toEqual({
      error: { message: "Invalid 'after': no chat completion found with id 'chatcmpl-expired'.", type: 'invalid_request_error', param: 'after', code: null },
    });
    expect(await service.store.isIdTaken('team-a', 'chatcmpl-expired')).toBe(false);
    clock = NOW_SECONDS + 60 * DAY;
    expect(await retention.sweep()).toBe(0);
    // The explicit delete's tombstone, however late: its id stays taken, its cursor pages.
    expect(await rowCounts()).toEqual({ completions: 0, input_messages: 0, metadata: 0, completion_models: 0, deleted_completions: 1 });
    expect(await service.store.isIdTaken('team-a', 'chatcmpl-deleted')).toBe(true);
    expect((await service.request('/v1/chat/completions?order=asc&after=chatcmpl-deleted', { key: 'sk-a-000001' })).status).toBe(200);
    expect(await metrics.registry.getSingleMetricAsString('retention_purged_tombstones_total')).toContain('retention_purged_tombstones_total 2');
    expect(lines.filter((line) => line.msg === 'retention sweep').map(({ deleted, tombstonesPurged }) => ({ deleted, tombstonesPurged }))).toEqual([
      { deleted: 1, tombstonesPurged: 0 },
      { deleted: 1, tombstonesPurged: 0 },
      { deleted: 0, tombstonesPurged: 1 },
      { deleted: 0, tombstonesPurged: 1 },
    ]);
  });
});
