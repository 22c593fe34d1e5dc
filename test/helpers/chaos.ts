import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isDeepStrictEqual } from 'node:util';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import OpenAI from 'openai';
import { utcDayOf } from '../../src/store/derived-fields.ts';
import { completionToChunks, openSse } from './fake-sse.ts';
import { sendJson, startFakeUpstream, type FakeUpstream } from './fake-upstream.ts';
import { storedCompletion } from './stored-shape.ts';

/**
 * The chaos driver's parts: a provider whose answers are known, a model of what the service
 * acknowledged, a mixed load that records every acknowledgement (a 200 and its body; for a
 * stored stream, the `[DONE]` its client received), and the checks run after a restart.
 * A finding is a sentence, not an exception: one round collects all of them.
 */

type Json = Record<string, unknown>;
type Metadata = Record<string, string>;

export const CHAOS_KEY = 'sk-chaos-key-0001';

/** Seeded randomness (mulberry32): a failing round is replayed from its seed. */
export function seeded(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(items: T[]): T => items[Math.floor(next() * items.length)]! };
}
export type Rng = ReturnType<typeof seeded>;

/** The provider: ids in issue order, `created` spread over a few seconds (ties included), streams sent in pieces. */
export interface ChaosUpstream {
  fake: FakeUpstream;
  /** Every completion the provider answered, by id: what a create may have stored unacknowledged. */
  issued: Map<string, Json>;
}

export async function startChaosUpstream(): Promise<ChaosUpstream> {
  const fake = await startFakeUpstream();
  const issued = new Map<string, Json>();
  let counter = 0;
  fake.handler = async (request, res) => {
    const body = request.json;
    if (request.method !== 'POST' || !body) return sendJson(res, 404, { error: { message: 'no route', type: 'invalid_request_error', param: null, code: null } });
    const n = ++counter;
    const messages = body.messages as { content: string }[];
    const completion: Json = {
      id: `chatcmpl-chaos${String(n).padStart(7, '0')}`,
      object: 'chat.completion',
      created: 1_700_000_000 + (n % 13),
      model: `${String(body.model)}-2024-01-01`,
      choices: [{ index: 0, message: { role: 'assistant', content: `echo ${messages.at(-1)!.content}`, refusal: null }, logprobs: null, finish_reason: 'stop' }],
      usage: { prompt_tokens: 9, completion_tokens: n % 50, total_tokens: 9 + (n % 50) },
      system_fingerprint: 'fp_chaos',
    };
    issued.set(completion.id as string, completion);
    if (body.stream !== true) return sendJson(res, 200, completion);
    const includeUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    const sse = openSse(res);
    for (const chunk of completionToChunks(completion, { includeUsage, pieceLength: 6 })) {
      sse.send(chunk);
      // A few milliseconds between chunks, so a kill lands inside streams too.
      await new Promise((r) => setTimeout(r, 2));
    }
    sse.done();
  };
  return { fake, issued };
}

/** One completion the load created, and everything the service acknowledged about it. */
interface Known {
  id: string;
  messages: { role: 'system' | 'user'; content: string }[];
  /** The provider's completion under this id, as stored (request fields aside). */
  upstream: Json;
  /** The x-request-id of the acknowledged create; undefined for a create whose answer never came. */
  requestId: string | undefined;
  /** The metadata last acknowledged (or sent with the create). */
  metadata: Metadata;
  /** Metadata sent in an update whose answer never came: each may or may not have been committed. */
  unsure: Metadata[];
  state: 'live' | 'deleted' | 'maybe-created' | 'maybe-deleted';
  /** A worker is writing it: no other worker touches it meanwhile, so its outcome is decidable. */
  busy: boolean;
  /** A word that occurs only in this completion's input, for search. */
  word: string;
}

export class ChaosModel {
  known = new Map<string, Known>();
  findings: string[] = [];
  counts = { creates: 0, streams: 0, updates: 0, deletes: 0, lists: 0, reads: 0, cut: 0, unavailable: 0 };
  /** Requests the service had begun to answer (the provider asked, a stream begun) and then cut: none may be, under a graceful stop. */
  cuts: string[] = [];
  /**
   * Requests reset on a kept-alive connection the service closed as idle (it had not read them: the provider was
   * never asked): HTTP/1.1's keep-alive race, which the SDKs retry as a connection error. Counted, not a finding.
   */
  resets: string[] = [];
  /** Creates whose answer never came, by their word: resolved after the restart. */
  pendingCreates = new Map<string, Known>();
  private nextWord = 0;

  /**
   * Whether the database may go away under the service (PostgreSQL restarted): a request then gets OpenAI's 503
   * (a begun stream, its error event), which leaves what it asked for in doubt, like a cut. Elsewhere a finding.
   */
  constructor(readonly upstream: ChaosUpstream, readonly databaseMayGo = false) {}

  word(): string {
    return `zq${(this.nextWord++).toString(36)}x`;
  }

  live(): Known[] {
    return [...this.known.values()].filter((k) => k.state === 'live' && !k.busy);
  }

  find(message: string): void {
    this.findings.push(message.length > 700 ? `${message.slice(0, 700)}...` : message);
  }
}

/** How long a request may go unanswered: past it, a hang (a finding), whatever the service was going through. */
const CLIENT_TIMEOUT_MS = 30_000;

function client(origin: string, fetchImpl?: typeof fetch): OpenAI {
  return new OpenAI({ apiKey: CHAOS_KEY, baseURL: `${origin}/v1`, maxRetries: 0, timeout: CLIENT_TIMEOUT_MS, ...(fetchImpl ? { fetch: fetchImpl } : {}) });
}

/** Whether an error is the service going away (killed, closing), not an answer; or (see ChaosModel) the database. */
function isCut(err: unknown, model?: ChaosModel, what = '', begun = false): boolean {
  // No answer within the client's timeout is a hang, never a cut: a finding.
  if (err instanceof OpenAI.APIConnectionTimeoutError || (err as Error | undefined)?.name === 'TimeoutError') return false;
  if (model && isUnavailable(err, model)) return true;
  const text = describe(err);
  const cut = err instanceof OpenAI.APIConnectionError || /terminated|ECONNRESET|ECONNREFUSED|socket|other side closed|aborted|fetch failed/i.test(text);
  if (cut && model && !/ECONNREFUSED/.test(text)) (begun ? model.cuts : model.resets).push(`${what}: ${text}`);
  return cut;
}

/** The error of a 503 while the database is unavailable (scaling.md, "Faults"): a stored stream's error event carries it too. */
export const UNAVAILABLE = { message: 'The database is unavailable; please retry your request shortly.', type: 'server_error', param: null, code: null };

function isUnavailable(err: unknown, model: ChaosModel): boolean {
  if (!model.databaseMayGo || !(err instanceof OpenAI.APIError) || (err.status !== 503 && err.status !== undefined)) return false;
  if (!same(err.error, UNAVAILABLE)) return false;
  model.counts.unavailable++;
  return true;
}

/**
 * A plain stored create through raw HTTP, not the SDK: its answer as the SDK would give it (a status other than
 * 200 thrown as the SDK's error for it), so both are judged alike. A body that is no JSON (a stack) is thrown as is.
 */
async function rawCreate(origin: string, request: Json): Promise<{ data: Json; requestId: string | undefined }> {
  const res = await fetch(`${origin}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CHAOS_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(request),
    signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
  });
  const text = await res.text();
  let body: Json;
  try {
    body = JSON.parse(text) as Json;
  } catch {
    throw new Error(`raw create answered ${res.status} with no JSON: ${text.slice(0, 300)}`);
  }
  if (res.status !== 200) throw OpenAI.APIError.generate(res.status, body, undefined, res.headers);
  return { data: body, requestId: res.headers.get('x-request-id') ?? undefined };
}

/** An error with its causes, which say whether the connection was refused or cut. */
function describe(err: unknown): string {
  const parts: string[] = [];
  for (let e = err as { message?: string; code?: string; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    parts.push(`${e.message ?? String(e)}${e.code ? ` (${e.code})` : ''}`);
  }
  return parts.join(' <- ');
}

/** The stored completion a create of `k` should read back as. */
export function expectedStored(k: Known, requestId: string, metadata: Metadata): Json {
  return storedCompletion(k.upstream, requestId, { metadata });
}

function expectedMessages(k: Known): Json[] {
  return k.messages.map((m, i) => ({ id: `${k.id}-${i}`, role: m.role, content: m.content, name: null, refusal: null, content_parts: null }));
}

/** Equal as JSON values: key order aside (the service's own order is not part of the contract). */
function same(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(a, b);
}

function newMetadata(rng: Rng, tag: string): Metadata {
  const pairs = 1 + rng.int(4);
  const metadata: Metadata = { v: tag };
  for (let i = 0; i < pairs; i++) metadata[`k${rng.int(6)}`] = `${tag}-${i}`;
  return metadata;
}

/**
 * A stored create, plain (through the SDK or raw HTTP) or streamed; acknowledged only by its 200 (or, streamed,
 * by `[DONE]` received).
 */
async function create(origin: string, model: ChaosModel, rng: Rng, worker: string, streamed: boolean, viaHttp = false): Promise<boolean> {
  const word = model.word();
  const messages = [
    { role: 'system' as const, content: 'Be brief.' },
    { role: 'user' as const, content: `${worker} says ${word} ${'x'.repeat(rng.int(300))}` },
  ];
  const metadata = newMetadata(rng, `${worker}-c`);
  // Which provider completion this create got: known only from its answer, or (cut) found by its word later.
  const pending: Known = { id: '', messages, upstream: {}, requestId: undefined, metadata, unsure: [], state: 'maybe-created', busy: false, word };
  model.pendingCreates.set(word, pending);
  try {
    if (!streamed) {
      const request = { model: 'gpt-4o', messages, store: true, metadata };
      const { data, requestId } = viaHttp
        ? await rawCreate(origin, request)
        : await client(origin)
            .chat.completions.create(request)
            .withResponse()
            .then(({ data, response }) => ({ data: data as unknown as Json, requestId: response.headers.get('x-request-id') ?? undefined }));
      const id = data.id as string;
      const issued = model.upstream.issued.get(id);
      if (!issued || !same(data, issued)) model.find(`create ${id}: the 200's body is not the provider's completion: ${JSON.stringify(data)}`);
      Object.assign(pending, { id, upstream: issued ?? data, requestId, state: 'live' });
      model.counts.creates++;
    } else {
      let raw = '';
      const watching: typeof fetch = async (input, init) => {
        const res = await fetch(input, init);
        if (!res.body) return res;
        const decoder = new TextDecoder();
        const tee = new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            raw += decoder.decode(chunk, { stream: true });
            controller.enqueue(chunk);
          },
        });
        return new Response(res.body.pipeThrough(tee), { status: res.status, statusText: res.statusText, headers: res.headers });
      };
      const { data: stream, response } = await client(origin, watching)
        .chat.completions.create({ model: 'gpt-4o', messages, store: true, metadata, stream: true })
        .withResponse();
      let id = '';
      for await (const chunk of stream) id = chunk.id;
      pending.id = id;
      if (!raw.endsWith('data: [DONE]\n\n')) {
        // No [DONE]: nothing was acknowledged, whatever the stream carried.
        model.cuts.push(`stream ${id || word} ended without [DONE] after ${raw.length} characters`);
        pending.upstream = model.upstream.issued.get(id) ?? {};
        model.counts.cut++;
        return false;
      }
      Object.assign(pending, { upstream: model.upstream.issued.get(id), requestId: response.headers.get('x-request-id') ?? undefined, state: 'live' });
      model.counts.streams++;
    }
    model.pendingCreates.delete(word);
    model.known.set(pending.id, pending);
    return true;
  } catch (err) {
    const asked = [...model.upstream.issued.values()].some((c) => JSON.stringify(c).includes(` ${word} `));
    if (isCut(err, model, `create ${word} (${asked ? 'the provider was asked' : 'the provider was not asked'})`, asked)) return false;
    model.find(`create (${streamed ? 'stream' : 'plain'}): ${String(err)}`);
    model.pendingCreates.delete(word);
    return false;
  }
}

async function update(origin: string, model: ChaosModel, rng: Rng, worker: string, k: Known, n: number): Promise<boolean> {
  const metadata = newMetadata(rng, `${worker}-u${n}`);
  k.busy = true;
  try {
    const updated = await client(origin).chat.completions.update(k.id, { metadata });
    if (!same(updated, expectedStored(k, k.requestId ?? ((updated as unknown as Json).request_id as string), metadata))) {
      model.find(`update ${k.id}: the 200's body ${JSON.stringify(updated)} is not the stored completion with the new metadata`);
    }
    k.metadata = metadata;
    k.unsure = [];
    model.counts.updates++;
    return true;
  } catch (err) {
    if (isCut(err, model, `update ${k.id}`)) {
      k.unsure.push(metadata);
      return false;
    }
    model.find(`update ${k.id}: ${String(err)}`);
    return false;
  } finally {
    k.busy = false;
  }
}

async function remove(origin: string, model: ChaosModel, k: Known): Promise<boolean> {
  k.busy = true;
  try {
    const deleted = await client(origin).chat.completions.delete(k.id);
    if (!same(deleted, { object: 'chat.completion.deleted', id: k.id, deleted: true })) model.find(`delete ${k.id}: body ${JSON.stringify(deleted)}`);
    k.state = 'deleted';
    model.counts.deletes++;
    return true;
  } catch (err) {
    if (isCut(err, model, `delete ${k.id}`)) {
      k.state = 'maybe-deleted';
      return false;
    }
    model.find(`delete ${k.id}: ${String(err)}`);
    return false;
  } finally {
    k.busy = false;
  }
}

/** Reads one completion nobody is writing and compares it whole, with its messages. */
async function read(origin: string, model: ChaosModel, k: Known, when: string): Promise<boolean> {
  try {
    const api = client(origin);
    const stored = (await api.chat.completions.retrieve(k.id)) as unknown as Json;
    if (!k.busy && k.state === 'live' && !same(stored, expectedStored(k, k.requestId ?? (stored.request_id as string), k.metadata))) {
      model.find(`${when}: retrieve ${k.id} = ${JSON.stringify(stored)}, acknowledged ${JSON.stringify(expectedStored(k, k.requestId ?? '?', k.metadata))}`);
    }
    const messages = await api.chat.completions.messages.list(k.id, { limit: 100 });
    if (!same(messages.data, expectedMessages(k))) model.find(`${when}: messages of ${k.id} = ${JSON.stringify(messages.data)}`);
    model.counts.reads++;
    return true;
  } catch (err) {
    if (isCut(err, model, `read ${k.id}`)) return false;
    if (err instanceof OpenAI.NotFoundError && (k.busy || k.state !== 'live')) return true;
    model.find(`${when}: retrieve ${k.id}: ${String(err)}`);
    return false;
  }
}

/**
 * Walks the list with the SDK's cursor (a random page size and order): every page in (created, id) order,
 * no item twice, nothing the provider never answered, and (when `complete`) every live acknowledged
 * completion present, none acknowledged deleted.
 */
async function walkList(origin: string, model: ChaosModel, rng: Rng, when: string, complete: boolean): Promise<boolean> {
  const order = rng.next() < 0.5 ? 'asc' : 'desc';
  const limit = 1 + rng.int(complete ? 100 : 30);
  const seen: { id: string; created: number }[] = [];
  try {
    let page = await client(origin).chat.completions.list({ limit, order });
    for (let pages = 1; ; pages++) {
      for (const item of page.data) seen.push({ id: item.id, created: item.created });
      if (!page.hasNextPage() || (!complete && pages >= 3)) break;
      page = await page.getNextPage();
    }
  } catch (err) {
    if (isCut(err, model, `list`)) return false;
    model.find(`${when}: list (limit ${limit}, ${order}): ${String(err)}`);
    return false;
  }
  model.counts.lists++;
  const ids = seen.map((s) => s.id);
  if (new Set(ids).size !== ids.length) model.find(`${when}: list (limit ${limit}, ${order}) repeats an item`);
  for (let i = 1; i < seen.length; i++) {
    const [a, b] = order === 'asc' ? [seen[i - 1]!, seen[i]!] : [seen[i]!, seen[i - 1]!];
    if (a.created > b.created || (a.created === b.created && Buffer.compare(Buffer.from(a.id), Buffer.from(b.id)) >= 0)) {
      model.find(`${when}: list (limit ${limit}, ${order}) out of order at ${seen[i - 1]!.id}, ${seen[i]!.id}`);
    }
  }
  for (const id of ids) if (!model.upstream.issued.has(id)) model.find(`${when}: list shows ${id}, which the provider never answered`);
  if (complete) {
    const listed = new Set(ids);
    for (const k of model.known.values()) {
      if (k.state === 'live' && !listed.has(k.id)) model.find(`${when}: acknowledged ${k.id} missing from the list (limit ${limit}, ${order})`);
      if (k.state === 'deleted' && listed.has(k.id)) model.find(`${when}: deleted ${k.id} listed again`);
    }
  }
  return true;
}

/**
 * Concurrent workers doing every kind of operation until the service stops answering (or `until` says stop).
 * Given several instances (`origins`, those up at the moment), each request goes to one drawn at random, and a
 * worker whose instance went away goes on with the others until `until` says stop.
 */
export async function runLoad(
  service: string | { origins: () => string[] },
  model: ChaosModel,
  rng: Rng,
  options: { workers: number; until: () => boolean; tag: string },
): Promise<void> {
  const several = typeof service !== 'string';
  const worker = async (w: number) => {
    const name = `${options.tag}w${w}`;
    for (let n = 0; !options.until(); n++) {
      const up = typeof service === 'string' ? [service] : service.origins();
      if (up.length === 0) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      const origin = rng.pick(up);
      const roll = rng.next();
      const target = () => {
        const live = model.live();
        return live.length > 0 ? rng.pick(live) : undefined;
      };
      let answered: boolean;
      if (roll < 0.3) answered = await create(origin, model, rng, name, false, rng.next() < 0.4);
      else if (roll < 0.5) answered = await create(origin, model, rng, name, true);
      else if (roll < 0.68) {
        const k = target();
        answered = k ? await update(origin, model, rng, name, k, n) : true;
      } else if (roll < 0.76) {
        const k = target();
        answered = k ? await remove(origin, model, k) : true;
      } else if (roll < 0.88) answered = await walkList(origin, model, rng, 'under load', false);
      else {
        const k = target();
        answered = k ? await read(origin, model, k, 'under load') : true;
      }
      if (!answered) {
        // Refused or cut: the service is gone (a kill) or going (a stop); the next request tells which.
        try {
          await fetch(`${origin}/livez`);
        } catch {
          if (!several) return;
        }
        // A 503 (the database gone) or a cut instance: not at once again, while it comes back.
        if (several) await new Promise((r) => setTimeout(r, 20));
      }
    }
  };
  await Promise.all(Array.from({ length: options.workers }, (_, w) => worker(w)));
}

/**
 * After a restart, settles what the kill left open: a create whose answer never came is found (by its
 * word) and, if stored, must be whole and is adopted; an update in doubt must show the last
 * acknowledged metadata or one of the unacknowledged ones, never a mix; a delete in doubt is 200 or 404.
 */
export async function settle(origin: string, model: ChaosModel): Promise<void> {
  const api = client(origin);
  for (const [word, k] of model.pendingCreates) {
    model.pendingCreates.delete(word);
    const page = await api.chat.completions.list({ limit: 10, search: word } as never);
    const ids = page.data.map((c) => c.id);
    if (ids.length > 1) model.find(`unacknowledged create with word ${word} stored ${ids.length} times: ${ids.join(', ')}`);
    if (ids.length === 0) continue;
    const stored = page.data[0] as unknown as Json;
    k.id = ids[0]!;
    k.upstream = model.upstream.issued.get(k.id) ?? {};
    if (!same(stored, expectedStored(k, stored.request_id as string, k.metadata))) model.find(`unacknowledged create ${k.id} stored as ${JSON.stringify(stored)}`);
    k.state = 'live';
    k.requestId = stored.request_id as string;
    model.known.set(k.id, k);
  }
  for (const k of model.known.values()) {
    if (k.state === 'maybe-deleted') {
      try {
        await api.chat.completions.retrieve(k.id);
        k.state = 'live';
      } catch (err) {
        if (!(err instanceof OpenAI.NotFoundError)) throw err;
        k.state = 'deleted';
        continue;
      }
    }
    if (k.state !== 'live' || k.unsure.length === 0) continue;
    const stored = (await api.chat.completions.retrieve(k.id)) as unknown as Json;
    const found = [k.metadata, ...k.unsure].find((m) => same(stored.metadata, m));
    if (!found) model.find(`${k.id}: metadata ${JSON.stringify(stored.metadata)} is none of the updates sent (${JSON.stringify([k.metadata, ...k.unsure])})`);
    k.metadata = found ?? (stored.metadata as Metadata);
    k.unsure = [];
  }
}

/** Every acknowledged fact, read back through the API, and the list walked whole. */
export async function verifyAll(origin: string, model: ChaosModel, rng: Rng, when: string): Promise<void> {
  const api = client(origin);
  const queue = [...model.known.values()];
  const check = async () => {
    for (let k = queue.shift(); k; k = queue.shift()) {
      if (k.state === 'live') await read(origin, model, k, when);
      else {
        try {
          await api.chat.completions.retrieve(k.id);
          model.find(`${when}: deleted ${k.id} is back`);
        } catch (err) {
          if (!(err instanceof OpenAI.NotFoundError)) model.find(`${when}: deleted ${k.id}: ${String(err)}`);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, check));
  await walkList(origin, model, rng, when, true);
  // The search index holds every live completion's words, and none of a deleted one.
  const sample = [...model.known.values()].filter(() => rng.next() < 0.2);
  for (const k of sample) {
    const page = await api.chat.completions.list({ limit: 5, search: k.word } as never);
    const ids = page.data.map((c) => c.id);
    const expected = k.state === 'live' ? [k.id] : [];
    if (!same(ids, expected)) model.find(`${when}: search ${k.word} found ${JSON.stringify(ids)}, expected ${JSON.stringify(expected)}`);
  }
}

/**
 * Checks the file itself, on a copy (the database, its WAL and shm), so that the check's own
 * connection neither recovers nor checkpoints the file the next start opens: SQLite's and FTS5's
 * integrity checks, and every derived row matching its completion (no half-written state).
 */
export function checkFile(databasePath: string, model: ChaosModel, when: string): void {
  const folder = mkdtempSync(join(tmpdir(), 'chaos-check-'));
  try {
    const copy = join(folder, 'copy.db');
    for (const suffix of ['', '-wal', '-shm']) if (existsSync(databasePath + suffix)) copyFileSync(databasePath + suffix, copy + suffix);
    const db = new Database(copy);
    try {
      const integrity = db.pragma('integrity_check') as unknown[];
      if (!same(integrity, [{ integrity_check: 'ok' }])) model.find(`${when}: integrity_check ${JSON.stringify(integrity)}`);
      const fk = db.pragma('foreign_key_check') as unknown[];
      if (fk.length > 0) model.find(`${when}: foreign_key_check ${JSON.stringify(fk.slice(0, 5))}`);
      if (!db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'completions'").get()) return;
      try {
        db.prepare("INSERT INTO completion_search (completion_search, rank) VALUES ('integrity-check', 0)").run();
      } catch (err) {
        model.find(`${when}: FTS integrity-check: ${String(err)}`);
      }
      const q = (sql: string) => db.prepare(sql).all();
      const report = (what: string, rows: unknown[]) => rows.length > 0 && model.find(`${when}: ${what}: ${JSON.stringify(rows.slice(0, 5))}`);
      report('completions without input messages', q('SELECT id FROM completions c WHERE NOT EXISTS (SELECT 1 FROM input_messages m WHERE m.completion_seq = c.seq)'));
      report('search rows without a completion', q('SELECT rowid FROM completion_search s WHERE NOT EXISTS (SELECT 1 FROM completions c WHERE c.seq = s.rowid)'));
      report('completions without a search row', q('SELECT id FROM completions c WHERE NOT EXISTS (SELECT 1 FROM completion_search s WHERE s.rowid = c.seq)'));
      report('metadata rows without their pair in the completion', q(
        `SELECT m.completion_id, m.key, m.value FROM metadata m WHERE NOT EXISTS (SELECT 1 FROM completions c
           WHERE c.project_id = m.project_id AND c.id = m.completion_id AND c.created = m.created AND json_extract(c.metadata, '$."' || m.key || '"') = m.value)`,
      ));
      report('metadata pairs without their index row', q(
        `SELECT c.id, j.key FROM completions c, json_each(c.metadata) j WHERE NOT EXISTS (SELECT 1 FROM metadata m
           WHERE m.project_id = c.project_id AND m.completion_id = c.id AND m.key = j.key AND m.value = j.value AND m.created = c.created)`,
      ));
      report('model rows without a completion', q(
        'SELECT completion_id FROM completion_models m WHERE NOT EXISTS (SELECT 1 FROM completions c WHERE c.project_id = m.project_id AND c.id = m.completion_id)',
      ));
      report('completions without their model rows', q(
        `SELECT id FROM completions c WHERE NOT EXISTS (SELECT 1 FROM completion_models m WHERE m.project_id = c.project_id AND m.completion_id = c.id AND m.model = c.requested_model)
           OR NOT EXISTS (SELECT 1 FROM completion_models m WHERE m.project_id = c.project_id AND m.completion_id = c.id AND m.model = c.model)`,
      ));
      report('completions also tombstoned', q('SELECT c.id FROM completions c JOIN deleted_completions d ON d.project_id = c.project_id AND d.id = c.id'));
      checkUsage(q('SELECT project_id, created, model, requested_model, prompt_tokens, completion_tokens, total_tokens FROM completions') as Json[], q('SELECT * FROM usage_daily') as Json[], model, when);
    } finally {
      db.close();
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/** usage_daily holds the sums of the completions' usage by project, UTC day and models, on either backend. */
export function checkUsage(completions: Json[], usageDaily: Json[], model: ChaosModel, when: string): void {
  const usage = new Map<string, number[]>();
  for (const row of completions) {
    const key = JSON.stringify([row.project_id, utcDayOf(Number(row.created)), row.model, row.requested_model]);
    const sums = usage.get(key) ?? [0, 0, 0, 0];
    usage.set(key, [sums[0]! + 1, sums[1]! + Number(row.prompt_tokens), sums[2]! + Number(row.completion_tokens), sums[3]! + Number(row.total_tokens)]);
  }
  const rolled = new Map<string, number[]>();
  for (const row of usageDaily) {
    rolled.set(JSON.stringify([row.project_id, row.day, row.model, row.requested_model]), [row.completions, row.prompt_tokens, row.completion_tokens, row.total_tokens].map(Number));
  }
  const order = (m: Map<string, number[]>) => JSON.stringify([...m].sort(([a], [b]) => a.localeCompare(b)));
  if (order(usage) !== order(rolled)) model.find(`${when}: usage_daily ${order(rolled)} is not the completions' sum ${order(usage)}`);
}
