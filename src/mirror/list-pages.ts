import { BATCH_TEXT_CHARACTERS } from '../batch-text.ts';
import type { Json } from '../json.ts';
import { printable } from './printable.ts';
import type { MirrorFilters } from './run-mirror.ts';
import { type SourceClient, SourceAnswerTooLargeError, SourceError, SourceNotFoundError } from './source-client.ts';

/** Reading the source's list of stored completions a page at a time, each page sized so that its answer stays small. */

/**
 * The source answered in a way it will answer again on every run (a page it gave before, `has_more` with nothing to
 * ask for more by, a completion too large to list): the run stopped there, and running again stops at the same place.
 * `remedy` says what might get past it instead.
 */
export class SourceStuckError extends SourceError {
  override name = 'SourceStuckError';
  constructor(
    message: string,
    status: number | undefined,
    readonly remedy: string,
  ) {
    super(message, status);
  }
}

/** Completions per list page: OpenAI's maximum, the fewest requests. */
const LIST_PAGE_SIZE = 100;

/**
 * Bytes a list answer is sized to: a page of 100 completions with replies of 1 MB was a 100 MB answer, held as text and
 * parsed objects at once, and Node's heap, sized by what it last found alive, grew to several times that (the mirror
 * peaked at 1 GB of memory). Ordinary completions (a few KB) stay at 100 a page.
 */
const LIST_ANSWER_BYTES = BATCH_TEXT_CHARACTERS / 4;

/**
 * The most bytes a list answer of more than one completion is read up to: past it the page is asked again for a
 * quarter as many (they average over LIST_ANSWER_BYTES each at this bound), down to one, which may take the whole
 * MAX_ANSWER_BYTES. Read up to that, a first page of 100 completions of 3 MB (a 300 MB answer) stopped the run
 * (it was past MAX_ANSWER_BYTES), and one of 2 MB each was held whole, text and parse, for 600 MB and more.
 */
const LIST_PAGE_MAX_BYTES = 4 * LIST_ANSWER_BYTES;

/** The next list page's `limit`: as many completions as fit in LIST_ANSWER_BYTES at the last page's average size, 1 to 100. */
function nextListLimit(items: number, bytes: number): number {
  if (items === 0) return LIST_PAGE_SIZE;
  return Math.max(1, Math.min(LIST_PAGE_SIZE, Math.floor((LIST_ANSWER_BYTES * items) / bytes)));
}

export type ListOrder = 'asc' | 'desc';

function listQuery(filters: MirrorFilters, order: ListOrder, after: string | undefined, limit: number): [string, string][] {
  const query: [string, string][] = [['limit', String(limit)], ['order', order]];
  if (filters.model !== undefined) query.push(['model', filters.model]);
  for (const [key, value] of filters.metadata) query.push([`metadata[${key}]`, value]);
  if (after !== undefined) query.push(['after', after]);
  return query;
}

/**
 * One page of the source's list. A 404 on the first page is a base URL without the API's path
 * (`https://api.openai.com` answers `Invalid URL (GET /chat/completions)` in JSON): said so, as for an HTML answer.
 */
async function listPage(
  source: SourceClient,
  filters: MirrorFilters,
  order: ListOrder,
  after: string | undefined,
  limit: number,
): Promise<{ body: Json; bytes: number }> {
  try {
    return await source.getSized('/chat/completions', listQuery(filters, order, after, limit), limit === 1 ? undefined : LIST_PAGE_MAX_BYTES);
  } catch (err) {
    if (err instanceof SourceAnswerTooLargeError && limit === 1) throw oneTooLarge(err, after);
    if (!(err instanceof SourceNotFoundError) || after !== undefined) throw err;
    throw new SourceError(
      `the source has no stored-completions list there (HTTP 404: ${err.message}): --from must be the API's base URL, such as https://api.openai.com/v1`,
      404,
    );
  }
}

/** A list page of one completion past the client's bound: the run cannot list past it, so it stops naming it. */
function oneTooLarge(err: SourceAnswerTooLargeError, after: string | undefined): SourceError {
  const id = firstId(err.head);
  const which = `${after === undefined ? 'the first listed' : `the one listed after ${printable(after)}`}${id === undefined ? '' : ` (${printable(id)})`}`;
  return new SourceStuckError(
    `${err.message}: a page of one completion, ${which}, which the run cannot list past`,
    err.status,
    'as that completion stays as large: a --since later than its created time may start past it',
  );
}

/** The first `"id"` of a JSON text's start, decoded: a list answer's first completion's, which OpenAI's items hold near their start. */
function firstId(head: string): string | undefined {
  const literal = /"id"\s*:\s*("(?:[^"\\]|\\.)*")/.exec(head)?.[1];
  try {
    return literal === undefined ? undefined : (JSON.parse(literal) as string);
  } catch {
    return undefined;
  }
}

/**
 * Pages of the source's list in one order: the first at OpenAI's maximum (nothing tells yet how large completions
 * are, and most are small), each next one sized by the last (`sized`); a page too large to read is asked again for a
 * quarter as many, down to one, said once through `onNote`.
 */
export function createListReader(source: SourceClient, filters: MirrorFilters, order: ListOrder, onNote: ((text: string) => void) | undefined) {
  let limit = LIST_PAGE_SIZE;
  // Said once: the pages after one too large to read are sized by what was read, and may be asked again for fewer too.
  let shrunk = false;
  return {
    async read(after: string | undefined): Promise<{ body: Json; bytes: number }> {
      for (;;) {
        try {
          return await listPage(source, filters, order, after, limit);
        } catch (err) {
          if (!(err instanceof SourceAnswerTooLargeError) || limit === 1) throw err;
          if (!shrunk) onNote?.(`a list page of ${limit} completions was too large to read at once: asking for fewer a page`);
          shrunk = true;
          limit = Math.max(1, Math.floor(limit / 4));
        }
      }
    },
    /** The page just read held `items` completions in `bytes`: the next is asked for as many as fit LIST_ANSWER_BYTES. */
    sized(items: number, bytes: number): void {
      limit = nextListLimit(items, bytes);
    },
  };
}
