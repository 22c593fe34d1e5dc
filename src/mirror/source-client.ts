import { rememberExactIntegers } from '../exact-integers.ts';
import { isObject, type Json } from '../json.ts';
import { noteWrittenKeyOrders } from '../key-order.ts';
import { MESSAGE_CHARACTERS, printable } from './printable.ts';

/**
 * A polite client of another server's stored-completions API (OpenAI, Azure
 * OpenAI, another instance of this service): GETs only, answers parsed as JSON,
 * 408, 409, 429 and 5xx answers and broken connections retried with exponential backoff
 * that honours the server's `retry-after-ms` / `Retry-After` (up to `maxDelayMs` a wait), and a refused key,
 * a server that is not an OpenAI API, a redirect (not followed) or an answer past `maxBodyBytes` reported as
 * such, never retried.
 */

export interface SourceClientOptions {
  /** The source's OpenAI base URL, e.g. https://api.openai.com/v1. */
  baseUrl: string;
  apiKey: string;
  /** Attempts after the first, per request. */
  maxRetries?: number;
  /** Backoff before the first retry when the server names no delay; doubles each time. */
  initialDelayMs?: number;
  /** No single wait is longer. */
  maxDelayMs?: number;
  /** Per request, headers to the end of the body. */
  timeoutMs?: number;
  /** The most bytes one answer may hold; past it the answer is refused, not retried (`MAX_ANSWER_BYTES`). */
  maxBodyBytes?: number;
  /** Told about each retry, for the progress line and the summary. */
  onRetry?: (info: { path: string; reason: string; delayMs: number; attempt: number }) => void;
}

/**
 * The source refused or cannot serve the request, and retrying would not change that. `status` is
 * the source's last HTTP status, undefined when it could not be reached at all. `advice` is what
 * to do when the whole run stops on it (a wrong --from): not part of the message, since the same
 * answer for one completion's messages, the list having worked, says nothing about --from.
 */
export class SourceError extends Error {
  override name = 'SourceError';
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly advice?: string,
  ) {
    super(message);
  }
}

/** Follows the message after a comma when the run stops on it. */
const FROM_ADVICE = "not OpenAI's API: --from must be the API's base URL, such as https://api.openai.com/v1";

/** A URL or path to print: one holding a 10,000-character id of the source's is cut (its characters are URL-encoded already). */
export const shownPath = (path: string) => printable(path, 300);

/** Follows a redirect's message when the run stops on it. */
const REDIRECT_ADVICE = "--from must be the API's own base URL, where it answers without a redirect (such as https://api.openai.com/v1)";

/**
 * Connection failures that say no source is there at all, by their code: a host name that does not resolve, a port
 * nothing listens on. On the run's first request they are a mistyped --from (or a source not started), and retried
 * like a dropped connection they kept the operator waiting 94 s for the same answer; once the source has answered,
 * they are a source that went away mid-run, and retried as such.
 */
const NOTHING_THERE: Record<string, string | undefined> = {
  ENOTFOUND: 'its host name was not found (ENOTFOUND)',
  ECONNREFUSED: 'the connection was refused (ECONNREFUSED)',
};

/** Follows a first request's failed connection when the run stops on it. */
const NOTHING_THERE_ADVICE = "not retried, as the source has not answered yet: check that --from is the API's base URL (such as https://api.openai.com/v1) and that the source runs";

/**
 * The source refuses the account, not one request: its quota is spent. Not retried, and the run stops, as for a
 * refused key: every other request would be refused alike.
 */
export class SourceAccountError extends SourceError {
  override name = 'SourceAccountError';
}

/** OpenAI's answer to an account out of credit (`insufficient_quota`), which it sends as a 429 like a rate limit. */
function isQuotaError(body: unknown): boolean {
  return isObject(body) && isObject(body.error) && (body.error.code === 'insufficient_quota' || body.error.type === 'insufficient_quota');
}

/** A completion the source no longer has (deleted while mirroring). */
export class SourceNotFoundError extends SourceError {
  override name = 'SourceNotFoundError';
}

/**
 * The source kept answering 408, 409, 429 or 5xx, or kept answering nothing (no answer in time, a dropped connection;
 * `status` undefined then), through every retry: overloaded or down, or broken for this one request.
 */
export class SourceUnavailableError extends SourceError {
  override name = 'SourceUnavailableError';
}

/**
 * The most bytes one answer of the source may hold. A real page of 100 listed completions or 100 messages is far
 * smaller (a whole completion is refused by import past 512 MiB, the longest string JavaScript holds, and this
 * service takes requests of 32 MiB by default); an answer that never ends (a broken proxy, a hostile server) was read
 * into memory until the timeout, 5 GB and more, and one past 512 MiB could not even be made a string. Read up to
 * this, memory stays bounded whatever the source sends.
 */
export const MAX_ANSWER_BYTES = 256 * 1024 * 1024;

/** An answer longer than the bound: the same request would get the same answer, so it is not retried. */
export class SourceAnswerTooLargeError extends SourceError {
  override name = 'SourceAnswerTooLargeError';
  constructor(
    message: string,
    status: number,
    /** The answer's first characters (a chunk's worth), to name what it held. */
    readonly head: string,
  ) {
    super(message, status);
  }
}

/** `n` bytes in MiB for a message: whole when it is. */
export function mebibytes(n: number): string {
  const mib = n / (1024 * 1024);
  return Number.isInteger(mib) ? String(mib) : mib.toFixed(2);
}

/** The body as UTF-8 text, or its first chunk's text once it is longer than `maxBytes` (the rest is not read: the connection is dropped). */
async function readBounded(response: Response, maxBytes: number): Promise<{ text: string; bytes: number } | { head: string }> {
  if (response.body === null) return { text: '', bytes: 0 };
  // Decoded as it comes, so the bytes are let go at once: kept whole, then joined, a large answer was in memory three
  // times over (the chunks, their copy in one buffer, the text) before its parse made a fourth.
  // As response.text() decodes: UTF-8, a byte order mark dropped, bad bytes replaced (across chunk ends too).
  const decoder = new TextDecoder();
  const pieces: string[] = [];
  let bytes = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (bytes > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return { head: pieces[0] ?? decoder.decode(value) };
    }
    pieces.push(decoder.decode(value, { stream: true }));
  }
  pieces.push(decoder.decode());
  return { text: pieces.join(''), bytes };
}

const RETRIED_STATUSES = (status: number) => status === 429 || status === 408 || status === 409 || status >= 500;

/** The delay the server asked for: `retry-after-ms` (OpenAI's), else `Retry-After` in seconds or as a date. */
export function requestedDelayMs(headers: Headers, now = Date.now()): number | undefined {
  const ms = Number(headers.get('retry-after-ms'));
  if (headers.has('retry-after-ms') && Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

/** The source's own error message, printable (it is printed on the operator's terminal). */
export function errorMessage(body: unknown): string | undefined {
  if (isObject(body) && isObject(body.error) && typeof body.error.message === 'string') return printable(body.error.message, MESSAGE_CHARACTERS);
  return undefined;
}

/**
 * The most a probe (`probe`) waits for its answer: a source that answers at all lists one completion far sooner, and
 * one that has stopped answering is told apart from one slow on a large answer without waiting out the 120 s.
 */
export const PROBE_TIMEOUT_MS = 10_000;

/** Waits `ms`, or less when `signal` aborts (then resolves too: the caller checks the signal). */
const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

/**
 * One attempt's signal: aborted when `ms` pass (`timedOut` then says so) or when `stopping` aborts. Not
 * `AbortSignal.any([AbortSignal.timeout(ms), stopping])`: Node 20 holds the timeout signal only weakly there, so a
 * garbage collection while the source said nothing took the timer with it, and the request waited forever (seen in
 * CI as a mirror test hung past 30 s). `release` ends the timer and the listener once the answer is read.
 */
function attemptSignal(ms: number, stopping: AbortSignal) {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException(`no answer within ${ms / 1000} s`, 'TimeoutError'));
  }, ms);
  const onStop = () => controller.abort(stopping.reason);
  if (stopping.aborted) onStop();
  else stopping.addEventListener('abort', onStop, { once: true });
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    release: () => {
      clearTimeout(timer);
      stopping.removeEventListener('abort', onStop);
    },
  };
}

export function createSourceClient(options: SourceClientOptions) {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const maxRetries = options.maxRetries ?? 8;
  const initialDelayMs = options.initialDelayMs ?? 500;
  const maxDelayMs = options.maxDelayMs ?? 60_000;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const maxBodyBytes = options.maxBodyBytes ?? MAX_ANSWER_BYTES;
  // Aborted by `stop`: every request in flight and every wait before a retry ends at once with the stop's error.
  const stopping = new AbortController();
  // Once the source has answered anything, a connection it refuses is a source gone away mid-run, worth the retries.
  let answered = false;

  /** One attempt: the parsed body, or what went wrong and whether it is worth another try. */
  async function attempt(
    url: string,
    maxBytes: number,
    timeout = timeoutMs,
  ): Promise<
    | { body: Json; bytes: number }
    | { retry: string; status: number | undefined; delayMs: number | undefined; connectionFailed?: string | undefined }
    | { fail: SourceError }
  > {
    let response: Response;
    let text: string;
    let bytes: number;
    const deadline = attemptSignal(timeout, stopping.signal);
    try {
      response = await fetch(url, {
        headers: { authorization: `Bearer ${options.apiKey}`, accept: 'application/json' },
        signal: deadline.signal,
        // Followed, a redirect to another host was mirrored from there (the key dropped, as fetch does cross-origin, but
        // what that host served stored as the source's); the service refuses its provider's redirects alike.
        redirect: 'manual',
      });
      answered = true;
      if (response.status >= 300 && response.status < 400) {
        await response.body?.cancel().catch(() => undefined);
        const location = response.headers.get('location');
        return {
          fail: new SourceError(
            `the source answered ${shownPath(url.split('?')[0]!)} with a redirect (HTTP ${response.status})${location === null ? '' : ` to ${printable(location)}`}, which is not followed`,
            response.status,
            REDIRECT_ADVICE,
          ),
        };
      }
      const read = await readBounded(response, maxBytes);
      if ('head' in read) {
        return {
          fail: new SourceAnswerTooLargeError(
            `the source answered ${shownPath(url.split('?')[0]!)} with more than ${mebibytes(maxBytes)} MiB (HTTP ${response.status}), more than any page of the API holds; stopped reading it`,
            response.status,
            read.head,
          ),
        };
      }
      ({ text, bytes } = read);
    } catch (err) {
      if (stopping.signal.aborted) return { fail: stopping.signal.reason as SourceError };
      // The source took the request and answered nothing, or stopped halfway, for the whole time: said as such, not as
      // "connection failed (The operation was aborted due to timeout)", which read as a refused connection.
      if (deadline.timedOut) return { retry: `no answer within ${timeout / 1000} s`, status: undefined, delayMs: undefined };
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      return {
        retry: `connection failed (${cause?.code ?? cause?.message ?? (err as Error).message})`,
        status: undefined,
        delayMs: undefined,
        connectionFailed: cause?.code ?? '',
      };
    } finally {
      deadline.release();
    }
    const type = response.headers.get('content-type') ?? '';
    let body: unknown;
    try {
      body = JSON.parse(text);
      // Integers past 2^53 (an int64 seed echoed on a completion) are stored as the source wrote them.
      if (isObject(body)) {
        rememberExactIntegers(body, text);
        // Objects' keys in the order the source serves them (a metadata map, a tool's schema), which a parsed object
        // changes (integer-like keys first): stored as served.
        noteWrittenKeyOrders(body, text);
      }
    } catch {
      body = undefined;
    }
    // OpenAI's 429 for an account out of credit: asked again, it answers the same through every retry (8 minutes of
    // waits at the defaults), and no completion of the run can be read meanwhile.
    if (response.status === 429 && isQuotaError(body)) {
      return {
        fail: new SourceAccountError(`the source refused the request: its account is out of quota (HTTP 429: ${errorMessage(body) ?? 'insufficient_quota'})`, response.status),
      };
    }
    if (RETRIED_STATUSES(response.status)) {
      return {
        retry: `HTTP ${response.status}${errorMessage(body) ? ` (${errorMessage(body)})` : ''}`,
        status: response.status,
        delayMs: requestedDelayMs(response.headers),
      };
    }
    if (response.status === 401 || response.status === 403) {
      return {
        fail: new SourceError(
          `the source refused --source-key (HTTP ${response.status}${errorMessage(body) ? `: ${errorMessage(body)}` : ''})`,
          response.status,
        ),
      };
    }
    if (body === undefined || !isObject(body)) {
      const what = /html/i.test(type) || /^\s*</.test(text) ? 'an HTML page' : `${type ? printable(type) : 'a body'} that is not a JSON object`;
      return {
        fail: new SourceError(`the source answered ${shownPath(url.split('?')[0]!)} with ${what} (HTTP ${response.status})`, response.status, FROM_ADVICE),
      };
    }
    if (response.status === 404) return { fail: new SourceNotFoundError(errorMessage(body) ?? 'not found', 404) };
    if (!response.ok) {
      return { fail: new SourceError(`the source answered HTTP ${response.status}: ${errorMessage(body) ?? printable(text, 200)}`, response.status) };
    }
    return { body, bytes };
  }

  /** As `get`, with the answer's size in bytes; `maxBytes` (at most the client's bound) bounds this answer. */
  async function getSized(path: string, query: [string, string][] = [], maxBytes = maxBodyBytes): Promise<{ body: Json; bytes: number }> {
    const search = new URLSearchParams(query).toString();
    const url = `${baseUrl}${path}${search ? `?${search}` : ''}`;
    for (let tries = 0; ; tries++) {
      const outcome = await attempt(url, Math.min(maxBytes, maxBodyBytes));
      if ('body' in outcome) return outcome;
      if ('fail' in outcome) throw outcome.fail;
      if (!answered && outcome.connectionFailed !== undefined && NOTHING_THERE[outcome.connectionFailed]) {
        throw new SourceError(`cannot connect to the source at ${printable(new URL(baseUrl).origin)}: ${NOTHING_THERE[outcome.connectionFailed]}`, undefined, NOTHING_THERE_ADVICE);
      }
      if (tries >= maxRetries) {
        const message = `giving up on ${shownPath(path)} after ${tries + 1} attempts: ${outcome.retry}`;
        throw new SourceUnavailableError(message, outcome.status);
      }
      const backoff = Math.min(maxDelayMs, initialDelayMs * 2 ** tries) * (0.5 + Math.random() / 2);
      const delayMs = Math.min(maxDelayMs, outcome.delayMs ?? backoff);
      options.onRetry?.({ path, reason: outcome.retry, delayMs, attempt: tries + 1 });
      await sleep(delayMs, stopping.signal);
      if (stopping.signal.aborted) throw stopping.signal.reason as SourceError;
    }
  }

  return {
    /** GET `path` (under the base URL) with `query`; retried as described above. */
    async get(path: string, query: [string, string][] = []): Promise<Json> {
      return (await getSized(path, query)).body;
    },
    getSized,
    /**
     * One GET, waiting at most PROBE_TIMEOUT_MS (or the client's timeout, when shorter): undefined when the source
     * answered (whatever it said), else why not (no answer, a dropped connection, 408, 409, 429 or 5xx). Not retried,
     * but once at once when the connection failed: a kept-alive connection the source had closed while idle fails
     * at once on its next request (seen from Node's own server, which closes them after 5 s), and the next connection
     * is new; a source that is down refuses that one too, at once.
     */
    async probe(path: string, query: [string, string][] = []): Promise<string | undefined> {
      const search = new URLSearchParams(query).toString();
      const url = `${baseUrl}${path}${search ? `?${search}` : ''}`;
      const timeout = Math.min(timeoutMs, PROBE_TIMEOUT_MS);
      let outcome = await attempt(url, maxBodyBytes, timeout);
      if ('connectionFailed' in outcome) outcome = await attempt(url, maxBodyBytes, timeout);
      return 'retry' in outcome ? outcome.retry : undefined;
    },
    /** Ends every request in flight and every one after it, and every wait before a retry, with `reason`. */
    stop(reason: SourceError): void {
      stopping.abort(reason);
    },
  };
}

export type SourceClient = ReturnType<typeof createSourceClient>;
