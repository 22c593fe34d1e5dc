import { ApiError, type ErrorBody } from '../errors.ts';
import { normalizeUpstreamError } from '../upstream/failures.ts';
import { formatSseData, type SseEvent } from './sse.ts';

/**
 * The error events a stored stream can end with instead of `[DONE]`. Once the 200 has gone a status can no
 * longer tell the client anything: an event in OpenAI's error shape does, and the SDKs raise it mid-stream.
 */

/** Our own error event: the message in OpenAI's error shape, as a server error. */
export function errorEvent(message: string): string {
  const body: ErrorBody = { error: { message, type: 'server_error', param: null, code: null } };
  return formatSseData(JSON.stringify(body));
}

/**
 * The error event of a stored stream whose id could not be held or whose completion could not be written: the
 * service's own error says why (the database unavailable: the 503's words, so the client knows to retry).
 */
export function notStored(err: unknown): string {
  return errorEvent(err instanceof ApiError ? err.message : 'The completion could not be stored.');
}

/** Why nothing was stored when the provider sent something that is no chunk. */
export function notStoredMessage(problem: string): string {
  return `The upstream provider sent ${problem} instead of a chat completion chunk; nothing was stored.`;
}

export const UNFINISHED_MESSAGE = 'The upstream provider ended the stream before it finished.';

export const NO_CHUNK_MESSAGE = 'The upstream provider ended the stream without sending a chunk; nothing was stored.';

/** A provider's error event as the client gets it: byte for byte when in OpenAI's shape, else put into it. */
export function relayedError(data: string, raw: string): string {
  // An `event: error` with nothing in it: said so, not as a status the provider (which answered 200) never gave.
  if (data.trim() === '') return errorEvent('The upstream provider sent an error event without a message.');
  const normalized = formatSseData(normalizeUpstreamError(502, data));
  return normalized === formatSseData(data) ? raw : normalized;
}

/**
 * A stream whose first event is the provider's error, as the client gets it: the events before the
 * error as they came (comments, keep-alives); the error, data or none, in OpenAI's shape.
 */
export function relayedErrorEvents(events: SseEvent[]): string {
  return events.map((event) => (event.data === undefined && event.type !== 'error' ? event.raw : relayedError(event.data ?? '', event.raw))).join('');
}
