import { pipeline, Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { Agent, type Dispatcher } from 'undici';
import { ApiError } from '../errors.ts';
import { baseQueryPairs, withBaseQuery } from './base-url.ts';
import { answerTooLarge, readCapped, readTextCapped } from './body-reading.ts';
import type { ClientConnection } from './client-request.ts';
import { decodeContent, streamDecoders } from './content-coding.ts';
import { toUpstreamFailure } from './failures.ts';
import { type ClientHeaders, forwardRequestHeaders } from './headers.ts';
import { closedUnansweredOnReusedConnection } from './reused-connection.ts';

/**
 * The provider: every call to it goes through here, so timeouts, credentials and the translation of its failures
 * into OpenAI's error shape (failures.ts) apply to every one. The headers that cross (headers.ts), the encodings
 * undone (content-coding.ts) and the bounded reads (body-reading.ts) are the folder's other modules.
 */

export interface UpstreamOptions {
  baseUrl: string;
  timeoutMs: number;
  /** The largest answer read into memory (a non-streamed completion, a stored stream, an error body). */
  responseLimitBytes: number;
}

export interface UpstreamRequest {
  method: string;
  /** Headers as the client sent them (see `clientHeadersOf`); hop-by-hop ones and credentials are replaced here. */
  headers: ClientHeaders;
  authorization: string | undefined;
  /** Pieces (`Uint8Array[]`) are sent one after the other, as one body of their summed length: a large body spliced, not copied. */
  body?: string | Uint8Array | readonly Uint8Array[] | ReadableStream<Uint8Array> | null;
  /** Aborted when the client goes away. */
  signal?: AbortSignal;
  /**
   * Instead of `signal`: the Node response to the client, whose `close`
   * before the call ends means the client went away (see `clientConnectionOf`).
   * Cheaper than the Request's signal, which costs an AbortController per
   * request and an EventTarget listener (3% of the create path's profile).
   */
  clientConnection?: ClientConnection;
  /**
   * The body is read as it arrives (streams, pass-through): the timeout then
   * bounds only the wait for the response headers, and the caller bounds the
   * gaps in the body (see `withIdleTimeout`). Otherwise it bounds the whole call.
   */
  streamed?: boolean;
  /**
   * The body is JSON text this service wrote (a create's, decoded and rewritten): the client's Content-Type
   * and Content-Encoding described what the client sent, not this, and are replaced by `application/json`.
   */
  jsonBody?: boolean;
  /**
   * The client's Content-Length, for a body forwarded unchanged: kept so the
   * provider gets a sized upload rather than a chunked one (some refuse those).
   */
  contentLength?: string;
}

/** The headers of a provider's answer, as the proxy reads them (a fetch Headers is such: in-process wrappers build one). */
export interface UpstreamHeaders {
  get(name: string): string | null;
  has(name: string): boolean;
  /** Every header, repeated ones joined with commas, as Headers does. */
  forEach(callback: (value: string, name: string) => void): void;
}

/**
 * A provider's answer: for a streamed call, its headers with its body still to
 * come; for a whole one, an answer already read into memory, which costs none
 * of the web streams a Response would (see `readAnswerText`).
 */
export interface UpstreamResponse {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: UpstreamHeaders;
  readonly body: ReadableStream<Uint8Array> | null;
  text(): Promise<string>;
}

export interface Upstream {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly responseLimitBytes: number;
  /** Calls `baseUrl + path`; throws ApiError 502 when unreachable and 504 after the timeout. */
  send(path: string, request: UpstreamRequest): Promise<UpstreamResponse>;
  /** Closes the pooled connections (at shutdown). */
  close(): Promise<void>;
}

/** Statuses whose responses have no body: an answer with one of them has a null body, as a fetch Response would. */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

export function createUpstream(options: UpstreamOptions): Upstream {
  // Every call goes through undici's request API on a keep-alive pool: about five
  // times the throughput of fetch on the create hot path (its WHATWG streams cost
  // more than the call itself), and it sends the client's headers as they are,
  // where fetch adds its own (sec-fetch-mode, accept-language, accept-encoding,
  // user-agent...). Our own timeout governs, so undici's (300 s by default) are off.
  // An idle connection is closed before the provider closes it, so that no request is sent on one the provider is
  // closing: undici keeps one as long as the provider's `Keep-Alive: timeout=` says, less keepAliveTimeoutThreshold
  // (2 s), and 4 s when it says nothing: below the 5 s of uvicorn (vLLM, LiteLLM), which says nothing. 10 s outlived it.
  const agent = new Agent({ headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 4_000 });
  // A request the provider closed its kept-alive connection under, unanswered, is sent again on a connection of its
  // own (see reused-connection.ts): a pool's other idle connection could be closing as well.
  const freshConnections = new Agent({ headersTimeout: 0, bodyTimeout: 0, pipelining: 0 });
  // Split once, not per call: undici's request API takes the origin and the path apart; the query goes after each
  // call's own path. From the parsed URL, not by slicing the text: an explicit default port (`:443`) or a user
  // is not in `origin`, and the path sliced after it was garbage.
  const base = new URL(options.baseUrl);
  const { origin } = base;
  const basePath = base.pathname.replace(/\/+$/, '');
  const baseQuery = baseQueryPairs(base.search.slice(1));
  return {
    baseUrl: options.baseUrl,
    timeoutMs: options.timeoutMs,
    responseLimitBytes: options.responseLimitBytes,
    async send(path, request) {
      const call = callSignal(request, options.timeoutMs);
      const headers = forwardRequestHeaders(request.headers, request.authorization, request.jsonBody);
      if (request.contentLength !== undefined) headers['content-length'] = request.contentLength;
      // Sized as a buffer would be: undici would send pieces chunked.
      if (Array.isArray(request.body)) headers['content-length'] = String(request.body.reduce((sum, part) => sum + part.byteLength, 0));
      // undici's request API never follows a redirect (as fetch's `redirect: 'manual'`): a pass-through route hands a
      // 3xx to the client as it came; a create answers it with a 502 (routes/upstream-errors.ts).
      const dispatch: Dispatcher.RequestOptions = {
        origin,
        path: withBaseQuery(basePath + path, baseQuery),
        method: request.method as Dispatcher.HttpMethod,
        headers,
        body: requestBody(request.body),
        signal: call.signal,
      };
      const sendOn = async (dispatcher: Dispatcher): Promise<UpstreamResponse> => {
        if (!request.streamed) return sendWhole(dispatcher, dispatch, call, options.responseLimitBytes);
        const answer = await dispatcher.request(dispatch);
        return new StreamedAnswer(answer.statusCode, answer.headers, answerBody(answer, request.method));
      };
      try {
        try {
          return await sendOn(agent);
        } catch (err) {
          // Once: a provider that resets a new connection too is not racing its keep-alive. A streamed upload is spent.
          if (!closedUnansweredOnReusedConnection(err) || call.signal.aborted || request.body instanceof ReadableStream) throw err;
          return await sendOn(freshConnections);
        }
      } catch (err) {
        if (err instanceof ApiError) throw err;
        throw toUpstreamFailure(err, call.timedOut);
      } finally {
        if (!request.streamed) call.detach();
        // A streamed call's timeout bounds only the wait for its headers (see UpstreamRequest.streamed);
        // the client going away still aborts its body.
        call.clearTimeout();
      }
    },
    close: async () => {
      await Promise.all([agent.close(), freshConnections.close()]);
    },
  };
}

/**
 * One call's signal, aborted when the client goes away or when the timeout
 * passes (`timedOut` tells which). One controller and one timer: the
 * `AbortSignal.timeout` + `AbortSignal.any` pair it replaces cost a weak
 * reference, a finalizer and a listener per call, and showed in the create
 * path's profile.
 */
function callSignal({ signal: client, clientConnection }: Pick<UpstreamRequest, 'signal' | 'clientConnection'>, ms: number) {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException('The upstream provider did not answer in time.', 'TimeoutError'));
  }, ms);
  const onClientGone = () => controller.abort(client?.reason ?? new DOMException('The client went away.', 'AbortError'));
  // A streamed call keeps listening until the response closes, which it also does once the whole answer is out.
  const onConnectionClosed = () => {
    if (!clientConnection!.writableFinished) onClientGone();
  };
  if (client?.aborted || clientConnection?.destroyed) onClientGone();
  else if (clientConnection) clientConnection.once('close', onConnectionClosed);
  else client?.addEventListener('abort', onClientGone, { once: true });
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    clearTimeout: () => clearTimeout(timer),
    /** Stops listening to the client: for a call already answered whole. */
    detach: () => {
      clientConnection?.off('close', onConnectionClosed);
      client?.removeEventListener('abort', onClientGone);
    },
  };
}

/** A whole answer's headers as undici hands them over: lower-case names, repeated ones as arrays. */
class AnswerHeaders implements UpstreamHeaders {
  constructor(private readonly raw: Record<string, string | string[] | undefined>) {}

  get(name: string): string | null {
    const value = this.raw[name.toLowerCase()];
    return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
  }

  has(name: string): boolean {
    return this.raw[name.toLowerCase()] !== undefined;
  }

  forEach(callback: (value: string, name: string) => void): void {
    for (const name in this.raw) {
      const value = this.raw[name];
      if (value !== undefined) callback(Array.isArray(value) ? value.join(', ') : value, name);
    }
  }
}

const utf8 = new TextDecoder();

/** A provider's answer as undici hands its status and headers over; how its body is read is the subclass's. */
abstract class Answer implements UpstreamResponse {
  readonly headers: AnswerHeaders;

  constructor(
    readonly status: number,
    headers: Record<string, string | string[] | undefined>,
  ) {
    this.headers = new AnswerHeaders(headers);
  }

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  abstract readonly body: ReadableStream<Uint8Array> | null;
  abstract text(): Promise<string>;
}

/** A provider's answer read whole (within UPSTREAM_RESPONSE_LIMIT_BYTES): its text is at hand without a stream. */
class WholeAnswer extends Answer {
  #body: ReadableStream<Uint8Array> | null | undefined;

  constructor(
    status: number,
    headers: Record<string, string | string[] | undefined>,
    private readonly bytes: Buffer | null,
  ) {
    super(status, headers);
  }

  /** Only for code that reads any answer as a stream; the create path takes `text()`. */
  get body(): ReadableStream<Uint8Array> | null {
    if (this.#body === undefined) this.#body = this.bytes === null ? null : new Blob([this.bytes]).stream();
    return this.#body;
  }

  /** As Response's: UTF-8, a byte order mark dropped, malformed bytes replaced. */
  text(): Promise<string> {
    return Promise.resolve(this.bytes === null ? '' : utf8.decode(this.bytes));
  }
}

/** A streamed call's answer, handed over once its headers are in: its body is read as it arrives (see `answerBody`). */
class StreamedAnswer extends Answer {
  constructor(
    status: number,
    headers: Record<string, string | string[] | undefined>,
    readonly body: ReadableStream<Uint8Array> | null,
  ) {
    super(status, headers);
  }

  /** As Response's, whole and unbounded: callers that must bound it read `body` (see `readAnswerText`). */
  text(): Promise<string> {
    return new Response(this.body).text();
  }
}

/** An answer's text, whole answers at once, streamed ones read within the limit and the idle timeout. */
export function readAnswerText(response: UpstreamResponse, upstream: Pick<Upstream, 'timeoutMs' | 'responseLimitBytes'>): Promise<string> {
  if (response instanceof WholeAnswer) return response.text();
  return readTextCapped(response.body, upstream.responseLimitBytes, upstream.timeoutMs);
}

/**
 * A non-streamed call, read to its end under the call's timeout: a provider
 * that resets or stalls after its headers is a 502 or 504 too, never our 500.
 */
async function sendWhole(
  agent: Dispatcher,
  dispatch: Dispatcher.RequestOptions,
  call: ReturnType<typeof callSignal>,
  limit: number,
): Promise<UpstreamResponse> {
  const answer = await agent.request(dispatch);
  let body: Buffer;
  try {
    body = await readCapped(answer.body, Number(answer.headers['content-length']), limit);
    body = await decodeContent(body, answer.headers['content-encoding'], limit);
  } catch (err) {
    // An error body past the limit leaves its status to report, as on the streamed paths (docs/streaming.md).
    if (err instanceof ApiError && answer.statusCode >= 400) return new WholeAnswer(answer.statusCode, answer.headers, null);
    if (err instanceof ApiError) throw err;
    if (call.timedOut) throw toUpstreamFailure(err, true);
    throw new ApiError(502, 'The upstream provider closed the connection before its response was complete.', 'server_error');
  }
  return new WholeAnswer(answer.statusCode, answer.headers, NULL_BODY_STATUSES.has(answer.statusCode) ? null : body);
}

/** A request body as undici's request API takes it: a streamed one (a pass-through's) as a Node stream, read as undici sends it. */
function requestBody(body: UpstreamRequest['body']): Dispatcher.RequestOptions['body'] {
  if (body instanceof ReadableStream) return Readable.fromWeb(body as NodeReadableStream<Uint8Array>);
  // Pieces as an iterable, which undici writes in turn (its documented body types; its typings leave iterables out).
  return (body ?? null) as Dispatcher.RequestOptions['body'];
}

/**
 * A streamed call's body as the caller reads it: a web stream, decoded on the way when the provider
 * compressed it anyway (see `decodeContent`), or null when the answer has none (a HEAD answer, a
 * null body status), as a fetch Response's. Cancelling it closes the provider's connection.
 */
function answerBody(answer: Dispatcher.ResponseData, method: string): ReadableStream<Uint8Array> | null {
  const { body } = answer;
  // Destroyed (the client gone, the read cancelled), undici's body may emit 'error' with nobody
  // listening any more: that would take the whole process down (see readCapped).
  body.on('error', () => {});
  if (method === 'HEAD' || NULL_BODY_STATUSES.has(answer.statusCode)) {
    // Read to its end (it has nothing), so its connection goes back to the pool.
    body.resume();
    return null;
  }
  const decoders = streamDecoders(body, answer.headers['content-encoding']);
  // pipeline() destroys every stream when one fails or the last is destroyed (a cancelled read): the error reaches the reader.
  const decoded = decoders.length === 0 ? body : (pipeline([body, ...decoders], () => {}) as unknown as Readable);
  return webBody(decoded);
}

/**
 * A Node body as a web stream, read only when its reader asks: a slow client leaves the bytes in
 * undici's buffer, which pauses the provider's connection when full. Unlike Readable.toWeb's, it
 * hands over what arrived before a failure before the failure itself: a provider that drops its
 * connection mid-stream still has its last events relayed. Cancelling it destroys the body, which
 * closes the provider's connection.
 */
function webBody(body: Readable): ReadableStream<Uint8Array> {
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  body.on('error', () => {}); // settled through `errored` below
  body.on('readable', notify).on('end', notify).on('close', notify);
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          // A destroyed stream still hands over what it had buffered.
          const chunk = body.read() as Buffer | null;
          if (chunk !== null) return controller.enqueue(chunk);
          if (body.readableEnded) return controller.close();
          if (body.destroyed) throw body.errored ?? new Error('The upstream body was closed before its end.');
          await new Promise<void>((resolve) => (wake = resolve));
        }
      },
      cancel(reason) {
        body.destroy(reason instanceof Error ? reason : undefined);
      },
    },
    { highWaterMark: 0 },
  );
}

