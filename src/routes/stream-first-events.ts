import { ApiError } from '../errors.ts';
import type { Json } from '../json.ts';
import { readEvent } from '../streaming/chunk-event.ts';
import { NO_CHUNK_MESSAGE, notStoredMessage } from '../streaming/error-events.ts';
import { type ProviderReads, readFailure } from '../streaming/provider-reads.ts';
import type { SseEvent, SseParser } from '../streaming/sse.ts';
import type { ReadResult } from '../upstream/body-reading.ts';

/**
 * How long a stored stream's answer waits for the provider's first event. Long enough for a provider
 * that answers at once to have its empty or broken stream turned into a 502; short enough that a
 * client (or a load balancer) waiting on a slow first token sees the answer begin, as it would from
 * the provider, rather than time out waiting for headers (and retry, generating again).
 */
export const FIRST_EVENT_WAIT_MS = 1000;

/**
 * What a stored stream begins with: its first chunk, the provider's own error event (to relay as the
 * stream's whole answer), or only keep-alives or silence so far (`begun`: the answer starts now, the
 * first chunk is looked at as the stream goes; `unread` is a read still under way, to be taken next).
 */
export type FirstEvents =
  | { events: SseEvent[]; firstChunk: Json }
  | { events: SseEvent[]; providerError: true }
  | { events: SseEvent[]; begun: true; unread: Promise<ReadResult<Uint8Array>> | undefined };

/**
 * A stored stream's events up to its first data event, read before anything
 * is answered: a provider whose 200 carries no chunk (an empty stream, an
 * event that is no chunk) gets the client a 502 rather than a 200 that stores
 * nothing. The provider's own error event is the exception: the client gets
 * the 200 and the error event it would have had from the provider (its type
 * and code intact, raised by the SDKs, not retried as a 502 would be).
 * A comment (a keep-alive) before the first data event, or a provider silent
 * for FIRST_EVENT_WAIT_MS, begins the answer instead: the provider is
 * working, and its keep-alives are relayed as they come.
 */
export async function readFirstEvents(reads: ProviderReads, parser: SseParser): Promise<FirstEvents> {
  const events: SseEvent[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const silent = new Promise<'silent'>((resolve) => {
    timer = setTimeout(() => resolve('silent'), FIRST_EVENT_WAIT_MS);
  });
  try {
    for (;;) {
      const next = reads.read();
      let result: ReadResult<Uint8Array> | 'silent';
      try {
        result = await Promise.race([next, silent]);
      } catch (err) {
        throw readFailure(err);
      }
      if (result === 'silent') return { events, begun: true, unread: next };
      events.push(...(result.done ? parser.end() : parser.push(result.value)));
      const position = events.findIndex((event) => event.data !== undefined || event.type === 'error');
      const first = position < 0 ? undefined : events[position];
      if (first !== undefined && first.data?.trim() !== '[DONE]') {
        const read = readEvent(first);
        if ('chunk' in read) return { events, firstChunk: read.chunk };
        reads.cancel();
        if ('providerError' in read) return { events: events.slice(0, position + 1), providerError: true };
        // Not retried (x-should-retry: false), as a plain create's answer that is no completion: the provider would
        // most likely answer the same way, a generation paid for each time and nothing stored.
        throw new ApiError(502, notStoredMessage(read.problem), 'server_error').notRetryable();
      }
      if (first !== undefined || result.done) {
        reads.cancel();
        throw new ApiError(502, NO_CHUNK_MESSAGE, 'server_error');
      }
      if (events.length > 0) return { events, begun: true, unread: undefined };
    }
  } finally {
    clearTimeout(timer);
  }
}
