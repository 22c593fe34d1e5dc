import type { Context } from 'hono';
import type { Dispatcher } from 'undici';
import { ApiError } from '../errors.ts';
import { nodeResponse } from '../response-headers.ts';

/** A provider's body read within bounds: at most a size, and never waiting longer than the idle timeout for a chunk. */

/**
 * The 502 for a provider's answer over UPSTREAM_RESPONSE_LIMIT_BYTES. Not to be retried: the SDKs retry a 502 twice,
 * and the same request would most likely be answered as long again, each generation paid for and none stored.
 */
export function answerTooLarge(limit: number): ApiError {
  return new ApiError(
    502,
    `The upstream provider's answer is larger than UPSTREAM_RESPONSE_LIMIT_BYTES (${limit} bytes); it was not read further, and nothing was stored.`,
    'server_error',
  ).notRetryable();
}

/**
 * Reads a whole body into one buffer, but never more than `limit` bytes: past
 * that (or when Content-Length already says so) the connection is closed and
 * what was read is let go, so one huge answer cannot take the process's memory.
 */
export function readCapped(body: Dispatcher.ResponseData['body'], declaredLength: number, limit: number): Promise<Buffer> {
  // Destroying the body makes undici emit 'error' (RequestAbortedError) when its bytes have already
  // arrived; unheard, that event would take the whole process down. Every outcome is settled here.
  body.on('error', () => {});
  if (declaredLength > limit) {
    body.destroy();
    return Promise.reject(answerTooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      chunks = [];
      reject(answerTooLarge(limit));
      body.destroy();
    });
    body.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    body.on('error', reject);
  });
}

/** A web body read as text, at most `limit` bytes (else `answerTooLarge`), each read within `idleMs`. */
export async function readTextCapped(body: ReadableStream<Uint8Array> | null, limit: number, idleMs: number): Promise<string> {
  if (!body) return '';
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let size = 0;
  for (;;) {
    const result = await readWithin(reader, idleMs);
    if (result.done) return text + decoder.decode();
    size += result.value.byteLength;
    if (size > limit) {
      reader.cancel().catch(() => {});
      throw answerTooLarge(limit);
    }
    text += decoder.decode(result.value, { stream: true });
  }
}

/**
 * A provider's body handed on to the client as it comes, each read within `ms`. Under @hono/node-server a body that
 * breaks midway destroys the Node response: that is how it reaches the client (a truncated chunked body, which cannot
 * pass for a complete one) and the request's log line (cut), without the adapter's stack trace on stderr. Called
 * in-process (no Node response), the stream errors.
 */
export function relayedBody(c: Context, body: ReadableStream<Uint8Array>, ms: number): ReadableStream<Uint8Array> {
  const outgoing = nodeResponse(c);
  return withIdleTimeout(body, ms, outgoing ? () => outgoing.destroy() : undefined);
}

/**
 * A body stream that fails when the upstream sends nothing for `ms`: the same
 * UPSTREAM_TIMEOUT_MS, applied to each wait between two chunks once a body is
 * streaming. On failure the upstream body is cancelled, which closes its connection.
 */
function withIdleTimeout(
  body: ReadableStream<Uint8Array>,
  ms: number,
  /**
   * Ends the client's response abruptly (so it cannot pass for a complete body). The read is then left unanswered:
   * the adapter cancels the stream when the response closes, after the request's log line has read it as cut;
   * closing the stream here made the adapter end the response first, which logged it as complete. Without it the
   * stream errors.
   */
  breakResponse?: () => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let result: ReadResult<Uint8Array>;
        try {
          result = await readWithin(reader, ms);
        } catch (err) {
          if (!breakResponse) throw err;
          breakResponse();
          return;
        }
        if (result.done) controller.close();
        else controller.enqueue(result.value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/** What one `read()` of a stream gives (the DOM's ReadableStreamReadResult, absent from Node's lib types). */
export type ReadResult<T> = Awaited<ReturnType<ReadableStreamDefaultReader<T>['read']>>;

export class UpstreamIdleTimeout extends Error {
  override name = 'UpstreamIdleTimeout';
}

/** One read from the upstream, or UpstreamIdleTimeout (and the upstream cancelled) when nothing comes within `ms`. */
export async function readWithin<T>(reader: ReadableStreamDefaultReader<T>, ms: number): Promise<ReadResult<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const idle = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UpstreamIdleTimeout(`The upstream provider sent nothing for ${ms} ms.`)), ms);
  });
  try {
    return await Promise.race([reader.read(), idle]);
  } catch (err) {
    if (err instanceof UpstreamIdleTimeout) reader.cancel(err).catch(() => {});
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
