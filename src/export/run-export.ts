import type { Store } from '../store/index.ts';
import { countWithin } from '../batch-text.ts';
import type { ListFilters, SortOrder } from '../validation.ts';
import { type ExportFormat, formatLine, type SkipReason } from './formats.ts';

export interface ExportRequest {
  project: string;
  /** The list's filters (model, metadata, created range, search), applied by the store's list. */
  filters: ListFilters;
  format: ExportFormat;
  /** The choice finetune and eval lines are made of. */
  choice: number;
  /** Eval lines carry the reply as a `sample` too (formats.ts, evalLine). */
  sample?: boolean;
  /** At most this many lines; undefined for all. */
  limit: number | undefined;
  /** Lines from the completion after this one in `order`, as the list's `after`; undefined for the first. */
  after?: string | undefined;
  /** (created, id) ascending unless `desc`. */
  order?: SortOrder;
}

/** What an export did so far; the caller reads it for progress and the summary. */
export interface ExportTally {
  /** Completions read from the store. */
  read: number;
  /** Lines produced. */
  written: number;
  /** Completions that made no line, by reason (finetune's, and `too_large` in any format). */
  skipped: Partial<Record<SkipReason, number>>;
}

/** Completions read per store call: large enough that per-page costs vanish, small enough to keep memory flat. */
export const EXPORT_PAGE_SIZE = 500;

/**
 * The size of the first page: its lines go out sooner than 500 completions' would. Every page, this one too, holds
 * as many of its completions as BATCH_TEXT_CHARACTERS allows by their sizes, read first (the store's
 * listCompletionSizes; no text is read for them). Pages of 500 held 500 completions whatever their size: with an
 * image sent as data in each request (5 MB a completion), 2.5 GB a page, past Node's heap, and an HTTP export took
 * the service down with it. Sized by the page before, 500 small completions then large ones still held 500 large.
 */
const FIRST_PAGE_SIZE = 10;

/** A chunk of lines is yielded before it would reach this many characters: well within a JavaScript string's 536,870,888. */
const CHUNK_CHARACTERS = 256 * 1024 * 1024;

export function newTally(): ExportTally {
  return { read: 0, written: 0, skipped: {} };
}

/**
 * The export's lines in (created, id) order (ascending unless asked otherwise), one chunk of whole lines
 * (each ending in a new line) per page of the store. Pages are read by keyset,
 * so memory stays at one page however many completions match, and a consumer
 * that stops pulling (a client gone) stops the reads: nothing runs ahead.
 */
export async function* exportLines(store: Store, request: ExportRequest, tally: ExportTally): AsyncGenerator<string> {
  const { filters } = request;
  const limitReached = () => request.limit !== undefined && tally.written >= request.limit;
  let after = request.after;
  let pageSize = FIRST_PAGE_SIZE;
  for (;;) {
    const params = {
      ...filters,
      after,
      // Finetune may skip some, so every page is read whole; the limit counts lines.
      limit: request.limit === undefined || request.format === 'finetune' ? pageSize : Math.min(pageSize, request.limit - tally.written),
      order: request.order ?? 'asc',
    };
    // The page's filters and search run once, in the sizes' read; the texts are then read by the ids it named, so they
    // are those of the completions sized (a completion stored in the page's range meanwhile waits for the next export).
    const sized = await store.listCompletionSizes(request.project, params);
    // At least one: an empty page still says there is nothing more (or that `after` was never stored).
    const fitting = sized.items.slice(0, Math.max(1, countWithin(sized.items.map(({ size }) => size)))).map(({ id }) => id);
    const ended = fitting.length === sized.items.length && !sized.hasMore;
    yield* pageLines(store, request, fitting, tally, limitReached);
    // A deleted id stays a cursor: the next page goes on after the page's last id whether or not it was read.
    after = fitting.at(-1) ?? after;
    if (ended || limitReached()) return;
    pageSize = EXPORT_PAGE_SIZE;
  }
}

/** What a page of lines is made with: the format, the choice finetune and eval lines take, and whether eval lines carry a sample. */
type LineRequest = Pick<ExportRequest, 'project' | 'format' | 'choice' | 'sample'>;

/**
 * The lines of the completions named (one page, read by id), in that order, as chunks of whole lines. A completion
 * deleted since it was named (another request, retention) makes none: written without its input it would import as a
 * completion that never had any, so a completion goes out whole or not at all. Stops after the line `limitReached` ends on.
 */
async function* pageLines(store: Store, request: LineRequest, ids: string[], tally: ExportTally, limitReached: () => boolean): AsyncGenerator<string> {
  const completions = await store.listCompletionsOf(request.project, ids);
  const messages = await store.listMessagesOf(request.project, ids);
  let chunk = '';
  for (const id of ids) {
    const completion = completions.get(id);
    const input = messages.get(id);
    if (!completion || !input) continue;
    tally.read++;
    const formatted = formatLine({ completion, messages: input }, request);
    if ('skipped' in formatted) {
      tally.skipped[formatted.skipped] = (tally.skipped[formatted.skipped] ?? 0) + 1;
      continue;
    }
    // Two long lines (of 300 MB each) would not make one string: the chunk goes out before it would grow past the bound.
    if (chunk !== '' && chunk.length + formatted.line.length >= CHUNK_CHARACTERS) {
      yield chunk;
      chunk = '';
    }
    chunk += `${formatted.line}\n`;
    tally.written++;
    if (limitReached()) break;
  }
  if (chunk !== '') yield chunk;
}

/**
 * The lines of chosen completions, in the order named (`POST /v1/stored-completions/export`): `sizes` is what the
 * store said each weighs when they were checked, and pages hold as many as BATCH_TEXT_CHARACTERS allows, as the
 * filtered export's do. One deleted since the check makes no line.
 */
export async function* exportLinesOf(store: Store, request: LineRequest, ids: string[], sizes: ReadonlyMap<string, number>, tally: ExportTally): AsyncGenerator<string> {
  for (let start = 0; start < ids.length; ) {
    const rest = ids.slice(start, start + EXPORT_PAGE_SIZE);
    const page = rest.slice(0, Math.max(1, countWithin(rest.map((id) => sizes.get(id) ?? 0))));
    yield* pageLines(store, request, page, tally, () => false);
    start += page.length;
  }
}
