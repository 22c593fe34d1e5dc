import { type ExactIntegers, exactIntegersOf, mergeExactIntegers } from '../exact-integers.ts';
import { InvalidCompletionError, toImportedRecord } from '../import/completion-line.ts';
import { isObject, type Json } from '../json.ts';
import type { CompletionRecord, Store } from '../store/index.ts';
import { type SourceClient, SourceError, SourceNotFoundError } from './source-client.ts';

/**
 * Copies every stored completion a source lists into one project of the
 * store: the list paged with `after` in ascending order, each new completion's
 * messages fetched (every page) a few at a time, each list page's completions
 * written in one transaction, after which the position is kept in the
 * store's settings. A run that was stopped, run again, lists on from there;
 * completions the project already has are neither fetched nor written again,
 * so nothing is stored twice whichever way it resumes.
 */

export interface MirrorFilters {
  model: string | undefined;
  metadata: [string, string][];
  /** Unix seconds, inclusive (`--since`, `--created-after`). */
  createdAfter: number | undefined;
  /** Unix seconds, exclusive. */
  createdBefore: number | undefined;
}

export interface MirrorRequest {
  source: SourceClient;
  /**
   * Where this mirror's position is kept in the store's settings (one key per
   * source, key, project and filters), so a run that was stopped lists on from
   * the last page it stored instead of from the start; undefined to keep none.
   */
  checkpointKey: string | undefined;
  /** List from the start even when a position was kept (what was copied is still skipped). */
  fromStart: boolean;
  store: Store;
  project: string;
  filters: MirrorFilters;
  /** Message fetches in flight at once. */
  concurrency: number;
}

export interface MirrorTally {
  pages: number;
  listed: number;
  copied: number;
  /** Already in the project (an earlier run, or an import). */
  present: number;
  /** Listed, then gone from the source before its messages were read. */
  vanished: number;
  /** True when the run began at a position an earlier run kept. */
  resumed: boolean;
  /** Served by the source in a shape this service cannot store as it is (each reported through `onNote`). */
  invalid: number;
}

/** Completions per list page: OpenAI's maximum, the fewest requests. */
const LIST_PAGE_SIZE = 100;
const MESSAGES_PAGE_SIZE = 100;

/** Every input message item of a completion, following `has_more`. */
async function fetchMessages(source: SourceClient, id: string): Promise<{ items: Json[]; exact: ExactIntegers | undefined }> {
  const items: Json[] = [];
  let exact: ExactIntegers | undefined;
  let after: string | undefined;
  for (;;) {
    const query: [string, string][] = [['limit', String(MESSAGES_PAGE_SIZE)], ['order', 'asc']];
    if (after !== undefined) query.push(['after', after]);
    const page = await source.get(`/chat/completions/${encodeURIComponent(id)}/messages`, query);
    const data = Array.isArray(page.data) ? (page.data as Json[]) : [];
    items.push(...data);
    exact = mergeExactIntegers(exact, exactIntegersOf(page));
    const last = data.at(-1);
    if (page.has_more !== true || !last || typeof last.id !== 'string') return { items, exact };
    after = last.id;
  }
}

/** Runs `work` over `items` with at most `limit` in flight; results in the items' order. */
async function mapWithLimit<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function listQuery(filters: MirrorFilters, after: string | undefined): [string, string][] {
  const query: [string, string][] = [['limit', String(LIST_PAGE_SIZE)], ['order', 'asc']];
  if (filters.model !== undefined) query.push(['model', filters.model]);
  for (const [key, value] of filters.metadata) query.push([`metadata[${key}]`, value]);
  if (after !== undefined) query.push(['after', after]);
  return query;
}

/**
 * One page of the source's list. A 404 on the first page is a base URL without the API's path
 * (`https://api.openai.com` answers `Invalid URL (GET /chat/completions)` in JSON): said so, as for an HTML answer.
 */
async function listPage(source: SourceClient, filters: MirrorFilters, after: string | undefined): Promise<Json> {
  try {
    return await source.get('/chat/completions', listQuery(filters, after));
  } catch (err) {
    if (!(err instanceof SourceNotFoundError) || after !== undefined) throw err;
    throw new SourceError(
      `the source has no stored-completions list there (HTTP 404: ${err.message}): --from must be the API's base URL, such as https://api.openai.com/v1`,
      404,
    );
  }
}

export interface MirrorEvents {
  /** After each list page is stored. */
  onPage?: () => void;
  /** A completion skipped for a reason the operator should read. */
  onNote?: (text: string) => void;
}

export async function runMirror(request: MirrorRequest, tally: MirrorTally, events: MirrorEvents = {}): Promise<void> {
  const { store, checkpointKey } = request;
  const saved = checkpointKey === undefined || request.fromStart ? undefined : await store.getSetting(checkpointKey);
  if (saved !== undefined) {
    tally.resumed = true;
    try {
      await mirrorFrom(request, tally, events, saved);
      return;
    } catch (err) {
      // The completion the position names is gone from the source (a 400 or 404 on `after`): walk from the start instead.
      if (!(err instanceof SourceError) || (err.status !== 400 && err.status !== 404) || tally.pages > 0) throw err;
      events.onNote?.(`the source no longer knows the position the last run stopped at (${saved}): listing from the start`);
      tally.resumed = false;
    }
  }
  await mirrorFrom(request, tally, events, undefined);
}

async function mirrorFrom(request: MirrorRequest, tally: MirrorTally, events: MirrorEvents, start: string | undefined): Promise<void> {
  const { source, store, project, filters, checkpointKey } = request;
  let after = start;
  const now = Math.floor(Date.now() / 1000);
  for (;;) {
    const page = await listPage(source, filters, after);
    if (!Array.isArray(page.data)) throw new SourceError('the source answered its list without a "data" array: is --from an OpenAI API?', undefined);
    const listed = (page.data as unknown[]).filter(isObject);
    tally.pages++;
    tally.listed += listed.length;
    // The created range is applied here: OpenAI's list has no such filter; order is ascending, so the end ends the walk.
    let reachedEnd = false;
    const wanted: Json[] = [];
    for (const item of listed) {
      const created = Number(item.created);
      if (filters.createdBefore !== undefined && created >= filters.createdBefore) {
        reachedEnd = true;
        break;
      }
      if (filters.createdAfter !== undefined && created < filters.createdAfter) continue;
      if (typeof item.id === 'string' && (await store.isIdTaken(project, item.id))) {
        tally.present++;
        continue;
      }
      wanted.push(item);
    }
    const records = await mapWithLimit(wanted, request.concurrency, async (item): Promise<CompletionRecord | undefined> => {
      try {
        const messages = await fetchMessages(source, String(item.id));
        return toImportedRecord({ ...item, input_messages: messages.items }, now, mergeExactIntegers(exactIntegersOf(page), messages.exact));
      } catch (err) {
        if (err instanceof SourceNotFoundError) {
          tally.vanished++;
          return undefined;
        }
        if (err instanceof InvalidCompletionError) {
          tally.invalid++;
          events.onNote?.(`skipped ${String(item.id)}: ${err.message}`);
          return undefined;
        }
        throw err;
      }
    });
    const fresh = records.filter((r): r is CompletionRecord => r !== undefined);
    if (fresh.length > 0) {
      const { stored, skipped } = await store.importCompletions(project, fresh);
      tally.copied += stored;
      tally.present += skipped.length;
    }
    const last = listed.at(-1);
    // Kept only once the page is stored: a run stopped before that lists this page again.
    if (checkpointKey !== undefined && last && typeof last.id === 'string') await store.setSetting(checkpointKey, last.id);
    events.onPage?.();
    if (reachedEnd || page.has_more !== true || !last || typeof last.id !== 'string') return;
    after = last.id;
  }
}
