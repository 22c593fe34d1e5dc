import { count } from '../counts.ts';
import { ApiError } from '../errors.ts';
import { type ExactIntegers, exactIntegersOf, hasAmbiguousIntegers, mergeExactIntegers } from '../exact-integers.ts';
import { InvalidCompletionError, toImportedRecord } from '../import/completion-line.ts';
import { isObject, type Json } from '../json.ts';
import { metadataJson, parseMetadataInWrittenOrder } from '../key-order.ts';
import type { CompletionRecord, Store } from '../store/index.ts';
import type { Metadata } from '../validation.ts';
import { createListReader, SourceStuckError } from './list-pages.ts';
import { MESSAGE_CHARACTERS, printable, quoted } from './printable.ts';
import { readAndStore } from './read-and-store.ts';
import { createSinceSearch } from './since-search.ts';
import {
  errorMessage,
  mebibytes,
  shownPath,
  type SourceClient,
  SourceAccountError,
  SourceAnswerTooLargeError,
  SourceError,
  SourceNotFoundError,
  SourceUnavailableError,
} from './source-client.ts';

/**
 * Copies every stored completion a source lists into one project of the
 * store: the list paged with `after` in ascending order, each new completion's
 * messages fetched (every page) a few at a time, each list page's completions
 * stored as they are read (`readAndStore`), after which the position is kept in the
 * store's settings. A run that was stopped, run again, lists on from there;
 * completions the project already has are neither fetched nor written again,
 * so nothing is stored twice whichever way it resumes. A completion the source
 * fails on (an error or a broken answer for its messages) is named and passed
 * over, not a stop: its id is kept beside the position, and the next run reads
 * it again by id before listing on.
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
  /**
   * Where the ids of completions the source failed on are kept, so the next run reads them again:
   * the position moves on past them, and they would otherwise never be listed again.
   */
  unreadKey: string | undefined;
  /** List from the start even when a position was kept (what was copied is still skipped). */
  fromStart: boolean;
  /**
   * A completion already here takes the source's metadata map where it differs (listed again from the
   * start, so the whole history is compared): tags edited at the source after an earlier run.
   */
  updateMetadata: boolean;
  store: Store;
  project: string;
  filters: MirrorFilters;
  /** Message fetches in flight at once. */
  concurrency: number;
  /** This run's claim on the mirror (`mirror-lease.ts`): checked before each page is written, so a run that lost it stops. */
  lease?: { check(): void };
  /** The most one completion's messages may hold (`MESSAGES_BOUNDS` unless given: tests give small ones). */
  messageBounds?: MessageBounds;
}

export interface MessageBounds {
  /** Bytes of all its messages pages together. */
  bytes: number;
  /** Message items. */
  count: number;
}

/**
 * The most one completion's messages may hold before it is left not mirrored. Every page is kept until the
 * completion is stored, so a source whose messages never end (new ids on every page: the cycle check does not
 * see it) grew the mirror's memory without bound. A stored completion's messages are its request's: this service
 * takes requests of 32 MiB by default, and a million messages is past any model's context window (each takes a
 * few tokens), so a real completion is far within both; memory stays bounded by them, whatever the source sends.
 */
export const MESSAGES_BOUNDS: MessageBounds = { bytes: 256 * 1024 * 1024, count: 1_000_000 };

export interface MirrorTally {
  /** List pages read in order, oldest first: the walk. */
  pages: number;
  /** List pages read newest-first to find where `--since` begins (`since-search.ts`). */
  searchPages: number;
  listed: number;
  copied: number;
  /** Already in the project (an earlier run, or an import). */
  present: number;
  /** Of those, how many took the source's metadata (`updateMetadata`). */
  metadataUpdated: number;
  /** Listed, then gone from the source before its messages were read. */
  vanished: number;
  /** True when the run began at a position an earlier run kept. */
  resumed: boolean;
  /** Served by the source in a shape this service cannot store as it is (each reported through `onNote`): their ids. */
  invalid: string[];
  /** List items that are not objects at all (`null`, `5`, `"str"`): not storable, and without an id to name them by. */
  notObjects: number;
  /** Listed without the `--metadata` pairs asked for (a source that does not filter by metadata): left out. */
  outsideFilters: number;
  /** Completions the source failed on and that are still not mirrored: id -> what the source answered. */
  unread: Map<string, string>;
}

/** A tally before the run: nothing counted yet. */
export function newMirrorTally(): MirrorTally {
  return { pages: 0, searchPages: 0, listed: 0, copied: 0, present: 0, metadataUpdated: 0, vanished: 0, resumed: false, invalid: [], notObjects: 0, outsideFilters: 0, unread: new Map() };
}

/**
 * Completions in a row the source may give up on (429 or 5xx, or no answer, through every retry) before the run stops: one
 * completion it always fails on is passed over, but a source that is down fails on every one, and going on
 * would spend a couple of minutes of retries on each completion of the page before the next list page failed.
 */
const UNAVAILABLE_IN_A_ROW = 5;

/**
 * How far back (in `created` seconds, from the newest completion listed) a run starts listing again when it
 * resumes. A completion is listed once it is stored, at the end of its generation, but ordered by `created`, the
 * time its request began: one that was still being generated (a long reasoning answer), or not yet listed by the
 * source, when a run passed its place lands behind the position kept, where only `--from-start` would find it.
 * Listed again, what is already here is skipped without a fetch, so the cost is a list page per 100 completions.
 */
export const RESUME_LOOKBACK_SECONDS = 3600;

/** The ends of the list pages stored, oldest first: where a run may resume. */
type PageEnds = [created: number | null, id: string][];

/**
 * The kept position: the ends of the pages of the last `RESUME_LOOKBACK_SECONDS`, and the newest end before
 * them. Written by earlier versions as one id, the end of the last page.
 */
function readPageEnds(saved: string): PageEnds {
  try {
    const parsed = JSON.parse(saved) as unknown;
    if (isObject(parsed) && Array.isArray(parsed.ends) && parsed.ends.length > 0) return parsed.ends as PageEnds;
  } catch {
    // One id, as earlier versions kept it.
  }
  return [[null, saved]];
}

/**
 * Whether a run may resume after a page end created at `created`: one at least the look-back before the newest
 * completion listed (created `newest`), or one before `--since` (`since`), past which nothing is wanted however late
 * it was listed.
 */
function resumable(created: number | null, newest: number, since: number | undefined): boolean {
  return created !== null && (created <= newest - RESUME_LOOKBACK_SECONDS || (since !== undefined && created < since));
}

/** Where a resumed run lists from: the newest end it may resume after. */
function resumePosition(ends: PageEnds, since: number | undefined): string | undefined {
  const newest = ends.at(-1)!;
  if (newest[0] === null) return newest[1];
  return ends.findLast(([created]) => resumable(created, newest[0]!, since))?.[1];
}

/** The ends a resumed run needs: those of the look-back, and the newest before them. */
function prunePageEnds(ends: PageEnds, since: number | undefined): PageEnds {
  const newest = ends.at(-1)?.[0];
  if (newest === null || newest === undefined) return ends.slice(-1);
  const anchor = ends.findLastIndex(([created]) => resumable(created, newest, since));
  return ends.slice(Math.max(anchor, 0));
}

/**
 * How many pages back a walk steps when the source no longer knows the completion it was to list after (deleted
 * there since its page was listed: by the user, or by OpenAI's 30-day expiry at the old end a first run starts
 * from). Each step lists a page again; its completions already listed are passed over, not counted twice.
 */
const CURSOR_STEPS_BACK = 3;

const MESSAGES_PAGE_SIZE = 100;

/** Every input message item of a completion, following `has_more`; `onPage` after each page (the progress line). */
async function fetchMessages(
  source: SourceClient,
  id: string,
  bounds: MessageBounds,
  onPage: (() => void) | undefined,
): Promise<{ items: Json[]; exact: ExactIntegers | undefined }> {
  const items: Json[] = [];
  let exact: ExactIntegers | undefined;
  let after: string | undefined;
  const cursors = new Set<string>();
  let bytes = 0;
  let pages = 0;
  const path = `/chat/completions/${encodeURIComponent(id)}/messages`;
  const shown = shownPath(path);
  const tooMany = (what: string) =>
    new SourceError(`the source answered ${shown} with ${what} over ${pages} pages, more than a completion's request holds; stopped asking for more`, 200);
  for (;;) {
    const query: [string, string][] = [['limit', String(MESSAGES_PAGE_SIZE)], ['order', 'asc']];
    if (after !== undefined) query.push(['after', after]);
    let page: Json;
    try {
      const answer = await source.getSized(path, query, bounds.bytes - bytes);
      page = answer.body;
      bytes += answer.bytes;
      pages++;
    } catch (err) {
      // Past the client's own bound on one answer, the error says so itself; here it is the messages together that are too many.
      if (err instanceof SourceAnswerTooLargeError && pages > 0) throw tooMany(`more than ${mebibytes(bounds.bytes)} MiB of messages`);
      throw err;
    }
    onPage?.();
    // Taken as no messages, the completion would be stored without its input, for good.
    if (!Array.isArray(page.data)) throw new SourceError(withoutData(`the source answered ${shown}`, page), 200);
    const data = page.data as Json[];
    if (items.length + data.length > bounds.count) throw tooMany(`more than ${count(bounds.count)} messages`);
    items.push(...data);
    exact = mergeExactIntegers(exact, exactIntegersOf(page));
    const last = data.at(-1);
    if (page.has_more !== true) return { items, exact };
    // More promised and nothing to ask for it by: stored as it stands, the completion would lack the rest for good.
    if (!last || typeof last.id !== 'string') throw new SourceError(noCursor(path), 200);
    // A source that does not page by `after` answers the same page again: asked for the next one forever, the items pile up.
    if (cursors.has(last.id)) throw new SourceError(repeatedPage(path, after, last.id), 200);
    cursors.add(last.id);
    after = last.id;
  }
}

/**
 * A page without `data`: its error when it holds one (a 200 whose body is `{"error": {"message": "quota exceeded"}}`,
 * which said only that it had no "data" array), else `otherwise` after that.
 */
function withoutData(answered: string, page: Json, otherwise = ''): string {
  const error = errorMessage(page);
  return error === undefined ? `${answered} without a "data" array${otherwise}` : `${answered} with an error instead of a page: ${error}`;
}

/** Why a walk stopped: a page said more follow, and ended without an item whose id asks for them. */
function noCursor(path: string): string {
  return `the source answered ${shownPath(path)} with "has_more": true and a page whose last item has no id to continue after; stopped asking for more`;
}

/** Why a walk stopped: the page asked for past `after` ends at `last`, where an earlier page ended. */
function repeatedPage(path: string, after: string | undefined, last: string): string {
  return `the source answered ${shownPath(path)} after ${after === undefined ? 'undefined' : quoted(after)} with a page ending at ${quoted(last)}, as an earlier page did (it does not page by "after"); stopped asking for more`;
}

/** What might get past a list that stops the same way on every run: a source that does not page by `after` is past help here. */
const IGNORES_AFTER_REMEDY = 'as the source answers the same way every time (it does not page by "after"), which no option here gets past: report it to whoever runs the source';

/** The same for a list that promised more and gave nothing to ask for it by, after the newest completion listed (created `created`). */
function pastIt(created: number | undefined): string {
  const same = 'as the source answers the same way every time';
  if (created === undefined) return `${same}: report it to whoever runs the source`;
  return `${same}: a --since later than ${created} (the newest completion listed) may start past it; or report it to whoever runs the source`;
}

/**
 * One completion with every input message, ready to store: from the object its list page gave, or,
 * for one an earlier run could not read, fetched by id.
 */
async function readCompletion(
  source: SourceClient,
  id: string,
  listed: { item: Json; exact: ExactIntegers | undefined } | undefined,
  now: number,
  bounds: MessageBounds,
  onPage: (() => void) | undefined,
): Promise<CompletionRecord> {
  let completion = listed;
  if (completion === undefined) {
    const item = await source.get(`/chat/completions/${encodeURIComponent(id)}`);
    completion = { item, exact: exactIntegersOf(item) };
  }
  const messages = await fetchMessages(source, id, bounds, onPage);
  return toImportedRecord({ ...completion.item, input_messages: messages.items }, now, mergeExactIntegers(completion.exact, messages.exact));
}

/**
 * The source failed on this completion's requests and not on the whole run: it answered (an error status, a broken
 * body), or gave no answer through every retry, but not a refused key or an account out of quota (which fail every
 * request alike). No answer counts as an error status does: one completion the source always times out on or drops
 * the connection for stopped every run at the same place, for ever; a source that is down as a whole is stopped by
 * `UNAVAILABLE_IN_A_ROW` instead. A 404 is a completion deleted meanwhile.
 */
function failedOnlyThisCompletion(err: unknown): err is SourceError {
  if (!(err instanceof SourceError) || err instanceof SourceNotFoundError || err instanceof SourceAccountError) return false;
  return err instanceof SourceUnavailableError || (err.status !== undefined && err.status !== 401 && err.status !== 403);
}

/**
 * Runs `work` over `items` with at most `limit` in flight; results in the items' order. After a failure no more
 * work starts, and the first failure is thrown once the work in flight has ended: none goes on (and writes
 * notes) after the run has said it stopped.
 */
async function mapWithLimit<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !failure) {
      const index = next++;
      try {
        results[index] = await work(items[index]!);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
  return results;
}

export interface MirrorEvents {
  /** After each list page is stored. */
  onPage?: () => void;
  /** After each page of a completion's messages is read: the progress line stays alive through a long one. */
  onMessagesPage?: () => void;
  /** A completion skipped for a reason the operator should read. */
  onNote?: (text: string) => void;
}

export async function runMirror(request: MirrorRequest, tally: MirrorTally, events: MirrorEvents = {}): Promise<void> {
  const { store, checkpointKey, unreadKey } = request;
  const unreadSaved = unreadKey === undefined ? undefined : await store.getSetting(unreadKey);
  for (const id of unreadSaved === undefined ? [] : (JSON.parse(unreadSaved) as string[])) tally.unread.set(id, 'not read yet');
  const mirror = createPageWriter(request, tally, events, unreadSaved);
  const readAgainIds = await readAgain(request, tally, mirror);
  const saved = checkpointKey === undefined || request.fromStart || request.updateMetadata ? undefined : await store.getSetting(checkpointKey);
  const ends = saved === undefined ? [] : readPageEnds(saved);
  const start = ends.length === 0 ? undefined : resumePosition(ends, request.filters.createdAfter);
  if (start !== undefined) {
    tally.resumed = true;
    try {
      await mirrorFrom(request, tally, events, mirror, readAgainIds, start, ends);
      return;
    } catch (err) {
      // The completion the position names is gone from the source (a 400 or 404 on `after`): walk from the start instead.
      if (!(err instanceof SourceError) || (err.status !== 400 && err.status !== 404) || tally.pages > 0) throw err;
      events.onNote?.(`the source no longer knows the position the last run stopped at (${printable(start)}): listing from the start`);
      tally.resumed = false;
    }
  }
  await mirrorFrom(request, tally, events, mirror, readAgainIds, undefined, ends);
}

type PageWriter = ReturnType<typeof createPageWriter>;

/** Reads completions and stores them a page at a time, keeping the ids of those the source failed on. */
function createPageWriter(request: MirrorRequest, tally: MirrorTally, events: MirrorEvents, unreadSaved: string | undefined) {
  const { source, store, project, unreadKey } = request;
  const now = Math.floor(Date.now() / 1000);
  let unreadKept = unreadSaved ?? '[]';
  let unavailableInARow = 0;
  // Set once the source is found down: the reads still in flight end with it, none noted as the completion's own failure.
  let stopped: SourceError | undefined;

  /**
   * After the source gave up on a completion through every retry: one list request, not retried, on a short timeout.
   * A source that does not answer it either is down (it died mid-run, or never answers), and the run stops now:
   * passing over each completion after all its retries took 5 in a row, 40 minutes at the CLI's defaults with four in
   * flight. A source that answers it is failing on this completion alone, which is passed over.
   */
  async function stopIfSourceDown(err: SourceUnavailableError): Promise<void> {
    const down = await source.probe('/chat/completions', [['limit', '1']]);
    if (down === undefined || stopped) return;
    stopped = new SourceError(
      `the source stopped answering (${err.message}; a list request right after: ${down}): run again once it answers`,
      undefined,
    );
    source.stop(stopped);
  }

  return {
    /** The completion, or undefined when it is left out (counted, and noted where the operator should read why). */
    async read(id: string, listed: { item: Json; exact: ExactIntegers | undefined } | undefined): Promise<CompletionRecord | undefined> {
      try {
        const record = await readCompletion(source, id, listed, now, request.messageBounds ?? MESSAGES_BOUNDS, events.onMessagesPage);
        tally.unread.delete(id);
        unavailableInARow = 0;
        return record;
      } catch (err) {
        if (err instanceof SourceUnavailableError && !stopped) await stopIfSourceDown(err);
        if (stopped) throw stopped;
        unavailableInARow = err instanceof SourceUnavailableError ? unavailableInARow + 1 : 0;
        if (failedOnlyThisCompletion(err)) {
          tally.unread.set(id, err.message);
          events.onNote?.(`not mirrored ${printable(id)}: ${err.message}`);
          if (unavailableInARow >= UNAVAILABLE_IN_A_ROW) {
            throw new SourceError(`the source gave up on ${unavailableInARow} completions in a row: it seems down or overloaded; run again once it answers`, undefined);
          }
          return undefined;
        }
        if (!(err instanceof SourceNotFoundError || err instanceof InvalidCompletionError)) throw err;
        tally.unread.delete(id);
        if (err instanceof SourceNotFoundError) {
          tally.vanished++;
        } else {
          tally.invalid.push(id);
          events.onNote?.(`skipped ${printable(id)}: ${printable(err.message, MESSAGE_CHARACTERS)}`);
        }
        return undefined;
      }
    },
    /**
     * A completion already here takes the listed metadata map if it differs (same pairs in another order too:
     * the map is served in the order it was set). One deleted here (its id kept as a tombstone) stays deleted;
     * a map this service would refuse on update is noted and left.
     */
    async takeMetadata(id: string, listed: unknown): Promise<void> {
      let metadata: Metadata;
      try {
        metadata = parseMetadataInWrittenOrder(listed);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        events.onNote?.(`metadata of ${printable(id)} not updated: ${printable(err.message, MESSAGE_CHARACTERS)}`);
        return;
      }
      const row = await store.getCompletion(project, id);
      if (row === undefined || row.metadata === metadataJson(metadata)) return;
      if (await store.updateMetadata(project, id, metadata)) tally.metadataUpdated++;
    },
    /** Stores what was read in one transaction, then keeps the ids still unread (before the position moves past them). */
    async store(records: (CompletionRecord | undefined)[]): Promise<void> {
      request.lease?.check();
      const fresh = records.filter((r): r is CompletionRecord => r !== undefined);
      if (fresh.length > 0) {
        const { stored, skipped } = await store.importCompletions(project, fresh);
        tally.copied += stored;
        tally.present += skipped.length;
      }
      const unread = JSON.stringify([...tally.unread.keys()]);
      if (unreadKey !== undefined && unread !== unreadKept) {
        // Again after the import, however long it took: a run whose claim ran out meanwhile would overwrite the list of the run now holding it.
        request.lease?.check();
        await store.setSetting(unreadKey, unread);
        unreadKept = unread;
      }
    },
  };
}

/**
 * The completions an earlier run could not read, read again by id before the list is walked;
 * returns their ids, which the walk then passes over (each is counted once, here).
 */
async function readAgain(request: MirrorRequest, tally: MirrorTally, mirror: PageWriter): Promise<Set<string>> {
  const handled = new Set(tally.unread.keys());
  const waiting: string[] = [];
  for (const id of tally.unread.keys()) {
    if (await request.store.isIdTaken(request.project, id)) {
      tally.unread.delete(id);
      tally.present++;
    } else {
      waiting.push(id);
    }
  }
  // Stored together, not as read (`readAndStore`): each store keeps the ids still unread, and one read but not yet
  // stored would be dropped from that list with no position to find it by again, lost to a crash before its store.
  await mirror.store(await mapWithLimit(waiting, request.concurrency, (id) => mirror.read(id, undefined)));
  return handled;
}

async function mirrorFrom(
  request: MirrorRequest,
  tally: MirrorTally,
  events: MirrorEvents,
  mirror: PageWriter,
  readAgainIds: Set<string>,
  start: string | undefined,
  /** The page ends kept by an earlier run. */
  kept: PageEnds,
): Promise<void> {
  const { source, store, project, filters, checkpointKey } = request;
  let after = start;
  // This walk lists everything after `start` again, and its own page ends replace those kept past it: each run's
  // pages end elsewhere, so kept they would pile up a look-back's worth per run; and a walk from the start (after
  // the source refused the position) would keep naming the refused one, every later run listing everything again.
  let ends = start === undefined ? [] : kept.slice(0, kept.findIndex(([, id]) => id === start) + 1);
  const cursors = new Set<string>(start === undefined ? [] : [start]);
  // The last pages listed: the cursor each was listed after, and its ids, to step back to when a cursor vanishes.
  const trail: { after: string | undefined; ids: string[] }[] = [];
  // Ids the pages listed again after such a step were already listed (and counted) by this walk.
  let listedBefore = new Set<string>();
  const reader = createListReader(source, filters, 'asc', events.onNote);
  // The time of the newest completion listed, to say where a --since would start past a list that stops here.
  let newestListed: number | undefined;
  // While the walk lists completions older than --since: where it begins, searched for newest-first beside it.
  const since = filters.createdAfter;
  let search =
    since === undefined
      ? undefined
      : createSinceSearch(source, filters, since, {
          onPage: () => {
            tally.searchPages++;
            events.onPage?.();
          },
          onNote: events.onNote,
        });
  for (;;) {
    let answer: { body: Json; bytes: number };
    try {
      answer = await reader.read(after);
    } catch (err) {
      // Stopped here, the run ended with the source's "not found" though only one completion was gone.
      const back = after !== undefined && err instanceof SourceError && (err.status === 400 || err.status === 404) ? trail.pop() : undefined;
      if (back === undefined) throw err;
      events.onNote?.(`the source no longer knows ${printable(after!)}, the last completion listed: listing again from the page before`);
      ends = ends.filter(([, id]) => id !== after);
      listedBefore = new Set([...listedBefore, ...back.ids]);
      after = back.after;
      continue;
    }
    // The last pages' ids too: a source whose pages overlap (one opening with the completion the page before ended
    // with) lists some twice, and each was counted "already there", though stored by this very run.
    const listedByWalk = new Set([...listedBefore, ...trail.flatMap(({ ids }) => ids)]);
    const { wanted, ids, last, hasMore, reachedEnd, exact } = await takePage(request, tally, events, mirror, answer.body, { listedBefore: listedByWalk, readAgainIds });
    reader.sized(ids.length, answer.bytes);
    // Held on to, the answer kept every completion's text of the page until the page was done: let go here, each
    // listed completion is held by `wanted` alone, until its read begins.
    answer = { body: {}, bytes: 0 };
    // Two completions' integers that round to one double: the page's text cannot tell each its own, so each is read by id.
    const readEach = hasAmbiguousIntegers(exact);
    // Stored as read, within the batch budget: a crash meanwhile leaves stored what was, and the page listed again.
    await readAndStore(wanted, request.concurrency, (item) => mirror.read(String(item.id), readEach ? undefined : { item, exact }), mirror.store);
    // Kept only once the whole page is stored: a run stopped before that lists this page again.
    if (checkpointKey !== undefined && last && typeof last.id === 'string') {
      request.lease?.check();
      const created = typeof last.created === 'number' && Number.isFinite(last.created) ? last.created : null;
      const end: PageEnds[number] = [created, last.id];
      // An end without a time (an earlier version's single id, a source's odd answer) is only ever the newest.
      ends = prunePageEnds([...ends.filter(([time, id]) => time !== null && id !== last.id), end].sort(byCreated), since);
      await store.setSetting(checkpointKey, JSON.stringify({ ends }));
    }
    events.onPage?.();
    if (reachedEnd || !hasMore) return;
    if (last && Number.isFinite(Number(last.created))) newestListed = Number(last.created);
    // Ended here, the run would report the history mirrored while the rest of it was never listed.
    // Every run asks for this page and gets the same answer: said so, not "run again to continue".
    if (!last || typeof last.id !== 'string') throw new SourceStuckError(noCursor('/chat/completions'), undefined, pastIt(newestListed));
    // The list answered a page it gave before (a source that ignores `after`): the walk would never end.
    if (cursors.has(last.id)) throw new SourceStuckError(repeatedPage('/chat/completions', after, last.id), undefined, IGNORES_AFTER_REMEDY);
    cursors.add(last.id);
    trail.push({ after, ids });
    if (trail.length > CURSOR_STEPS_BACK) trail.shift();
    after = last.id;
    if (search !== undefined && Number(last.created) < since!) {
      const step = await search.step();
      if (step !== 'searching') search = undefined;
      // Only ahead of the walk: one behind it (a source whose two orders disagree) would list again what was listed.
      if (typeof step === 'object' && step.found.created > Number(last.created)) {
        after = step.found.id;
        cursors.add(after);
        // Kept with the next page's end, as a page's end is: a later run resumes there, not before --since to search again.
        ends = [...ends, [step.found.created, step.found.id]];
      }
    } else {
      // At --since already (or a page without a time to tell): nothing left to search for.
      search = undefined;
    }
  }
}

/**
 * One list page taken in: its items counted (those not objects noted), the created range and metadata pairs applied, what the project has
 * passed over (taking the source's metadata with `updateMetadata`); what is left to read, and what the walk needs of the
 * page after it is stored (its ids, its last item's id and time), without the page itself.
 */
async function takePage(
  request: MirrorRequest,
  tally: MirrorTally,
  events: MirrorEvents,
  mirror: PageWriter,
  page: Json,
  seen: { listedBefore: Set<string>; readAgainIds: Set<string> },
): Promise<{ wanted: Json[]; ids: string[]; last: { id: unknown; created: unknown } | undefined; hasMore: boolean; reachedEnd: boolean; exact: ExactIntegers | undefined }> {
  const { store, project, filters } = request;
  const { listedBefore, readAgainIds } = seen;
  if (!Array.isArray(page.data)) throw new SourceError(withoutData('the source answered its list', page, ': is --from an OpenAI API?'), undefined);
  tally.pages++;
  // Passed over silently, they were counted nowhere: the copy would look whole with holes in it.
  const listed: Json[] = [];
  for (const [index, item] of (page.data as unknown[]).entries()) {
    if (isObject(item)) {
      listed.push(item);
      continue;
    }
    tally.notObjects++;
    events.onNote?.(`skipped item ${index + 1} of list page ${tally.pages}: not a completion object but ${printable(JSON.stringify(item) ?? String(item), 100)}`);
  }
  // An id listed before in this walk, or twice on this page, is counted, read and stored once: the first time.
  const onThisPage = new Set<string>();
  const firstListed = listed.filter((item) => {
    if (typeof item.id !== 'string') return true;
    if (listedBefore.has(item.id) || onThisPage.has(item.id)) return false;
    onThisPage.add(item.id);
    return true;
  });
  tally.listed += page.data.length - (listed.length - firstListed.length);
  // The created range is applied here: OpenAI's list has no such filter; order is ascending, so the end ends the walk.
  let reachedEnd = false;
  const wanted: Json[] = [];
  for (const item of firstListed) {
    const created = Number(item.created);
    if (filters.createdBefore !== undefined && created >= filters.createdBefore) {
      reachedEnd = true;
      break;
    }
    if (filters.createdAfter !== undefined && created < filters.createdAfter) continue;
    // Asked of the source too, which OpenAI applies; a compatible server without the filter (llama-stack's store) lists
    // every completion, and the copy would hold what the operator filtered out.
    if (!hasPairs(item.metadata, filters.metadata)) {
      tally.outsideFilters++;
      continue;
    }
    // Read again before the walk (--from-start and --update-metadata list it again): stored, named or counted there already.
    if (readAgainIds.has(String(item.id))) continue;
    if (typeof item.id === 'string' && (await store.isIdTaken(project, item.id))) {
      tally.present++;
      if (request.updateMetadata) await mirror.takeMetadata(item.id, item.metadata);
      continue;
    }
    wanted.push(item);
  }
  const last = listed.at(-1);
  return {
    wanted,
    ids: listed.map((item) => String(item.id)),
    last: last && { id: last.id, created: last.created },
    hasMore: page.has_more === true,
    reachedEnd,
    exact: exactIntegersOf(page),
  };
}

/** Whether a listed completion's metadata holds every pair (exact, case-sensitive, as the list's filter matches). */
function hasPairs(metadata: unknown, pairs: readonly [string, string][]): boolean {
  if (pairs.length === 0) return true;
  if (!isObject(metadata)) return false;
  return pairs.every(([key, value]) => Object.hasOwn(metadata, key) && metadata[key] === value);
}

/** Page ends in list order, by `created`; one without a time last. */
function byCreated(a: PageEnds[number], b: PageEnds[number]): number {
  return (a[0] ?? Infinity) - (b[0] ?? Infinity);
}
