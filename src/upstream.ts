import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { promisify } from 'node:util';
import {
  brotliDecompress,
  constants as zlib,
  createBrotliDecompress,
  createGunzip,
  createInflate,
  createInflateRaw,
  gunzip,
  inflate,
  inflateRaw,
} from 'node:zlib';
import type { Context } from 'hono';
import { Agent, type Dispatcher } from 'undici';
import { ApiError, type ErrorBody } from './errors.ts';
import { isObject } from './json.ts';
import { nodeResponse } from './response-headers.ts';
import { closedUnansweredOnReusedConnection } from './upstream-reuse.ts';

/**
 * The provider: every call to it goes through here, so timeouts, credentials and
 * the translation of its failures into OpenAI's error shape live in one place.
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

/** Headers that describe one connection, not the message: never copied across the proxy. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  // Node's server has already answered `100 Continue`; undici refuses to send the header on.
  'expect',
]);

/**
 * A client's request headers: Node's raw list (name, value, name, value...,
 * names as sent) when the server hands over the Node request, else a fetch
 * Headers. The raw list spares building a Headers object for every create
 * (2.7% of the create path's CPU profile went to it).
 */
export type ClientHeaders = Headers | readonly string[];

/** The client's headers of a request served by @hono/node-server (its env carries the Node request), else the Request's own. */
export function clientHeadersOf(request: Request, env: unknown): ClientHeaders {
  return (env as { incoming?: { rawHeaders?: string[] } } | undefined)?.incoming?.rawHeaders ?? request.headers;
}

/**
 * The query string the client sent (with its `?`, still percent-encoded), '' for none: a create sends it on as the
 * forwarded routes do (an `api-version` a gateway reads). Read from the Node request when the adapter hands it over,
 * without building the Request's URL.
 */
export function clientQueryOf(request: Request, env: unknown): string {
  const url = (env as { incoming?: { url?: string } } | undefined)?.incoming?.url ?? request.url;
  const mark = url.indexOf('?');
  if (mark === -1) return '';
  // A fragment is no part of a request (a raw client may still send one): not sent on.
  const fragment = url.indexOf('#', mark);
  return fragment === -1 ? url.slice(mark) : url.slice(mark, fragment);
}

/** One `name=value` pair of a query as written, with its decoded name (which a call's own parameter of that name overrides). */
export interface QueryPair {
  pair: string;
  name: string;
}

/**
 * The base URL's own query parameters (Azure's `api-version`, a gateway's `key`) added to a call's path, after the
 * path as the OpenAI SDKs add their `defaultQuery`: each pair as written, but for a name the call's own query
 * already has, which wins. `base` holds the pairs of the base URL's query, split once.
 */
export function withBaseQuery(path: string, base: readonly QueryPair[]): string {
  if (base.length === 0) return path;
  const mark = path.indexOf('?');
  if (mark === -1) return `${path}?${base.map((p) => p.pair).join('&')}`;
  const own = new Set(new URLSearchParams(path.slice(mark + 1)).keys());
  const added = base.filter((p) => !own.has(p.name)).map((p) => p.pair);
  if (added.length === 0) return path;
  return `${path}${mark === path.length - 1 ? '' : '&'}${added.join('&')}`;
}

/** The pairs of a base URL's query (without its `?` or fragment), as written, each with its decoded name. */
export function baseQueryPairs(query: string): QueryPair[] {
  return query
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => ({ pair, name: [...new URLSearchParams(pair).keys()][0] ?? '' }));
}

/**
 * Whether a client header stays behind: hop-by-hop, the client's own key, or the encodings the client
 * accepts (the proxy asks for none: it reads answers itself, and decodes one a provider compresses anyway).
 */
function staysBehind(name: string): boolean {
  return HOP_BY_HOP.has(name) || name === 'authorization' || name === 'accept-encoding';
}

/** The Node response a request is answered on, as far as a call to the provider watches it. */
export interface ClientConnection {
  readonly destroyed: boolean;
  /** True once the whole answer was handed to the socket: a `close` after that is no client going away. */
  readonly writableFinished: boolean;
  once(event: 'close', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
}

/** The Node response of a request served by @hono/node-server (its env carries it), if any. */
export function clientConnectionOf(env: unknown): ClientConnection | undefined {
  return (env as { outgoing?: ClientConnection } | undefined)?.outgoing;
}

/**
 * How a call to the provider learns that the client went away: the Node
 * response when the server hands it over, else the Request's signal (in-process
 * calls). Reading `request.signal` makes the adapter build an AbortController
 * and an EventTarget listener for the request; the Node response's `close` is
 * there anyway.
 */
export function clientGoneWatch(request: Request, env: unknown): Pick<UpstreamRequest, 'clientConnection' | 'signal'> {
  const connection = clientConnectionOf(env);
  return connection ? { clientConnection: connection } : { signal: request.signal };
}

/** Headers that describe the body the client sent: a body this service wrote (`jsonBody`) goes without them. */
const DESCRIBE_CLIENT_BODY = new Set(['content-type', 'content-encoding', 'content-md5', 'digest', 'content-digest', 'repr-digest']);

/**
 * Client headers to send on: hop-by-hop ones dropped, the client's own key replaced by the tenant's upstream
 * credentials; with `jsonBody` (see UpstreamRequest), the body's type and encoding are this service's.
 */
export function forwardRequestHeaders(incoming: ClientHeaders, authorization: string | undefined, jsonBody = false): Record<string, string> {
  const headers: Record<string, string> = {};
  let connection: string | undefined;
  const add = (value: string, name: string) => {
    if (name === 'connection') connection = value;
    if (staysBehind(name) || (jsonBody && DESCRIBE_CLIENT_BODY.has(name))) return;
    // Repeated headers are joined with commas, as a Headers object does.
    headers[name] = Object.hasOwn(headers, name) ? `${headers[name]}, ${value}` : value;
  };
  if (Array.isArray(incoming)) {
    for (let i = 0; i < incoming.length; i += 2) add(incoming[i + 1]!, incoming[i]!.toLowerCase());
  } else {
    (incoming as Headers).forEach(add);
  }
  // Headers the Connection header names are hop-by-hop too.
  if (connection !== undefined) for (const name of connection.toLowerCase().split(',')) delete headers[name.trim()];
  if (authorization !== undefined) headers.authorization = authorization;
  // After the Connection header's names: `Connection: content-type` took it away.
  if (jsonBody) headers['content-type'] = 'application/json';
  return headers;
}

/**
 * The provider's base URL as the log may show it: user and password, and every query value (Azure's
 * `api-key=`, a gateway's token), replaced by `***`; the parameters' names stay, to say what is set.
 */
export function maskUpstreamUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.username === '' && parsed.password === '' && parsed.search === '') return url;
  if (parsed.username !== '' || parsed.password !== '') {
    parsed.username = '***';
    parsed.password = '';
  }
  const names = [...new Set(parsed.searchParams.keys())];
  for (const name of names) parsed.searchParams.set(name, '***');
  return parsed.toString();
}

/** Response headers as Hono takes them. */
export type HeaderRecord = Record<string, string>;

/**
 * Whether a header of the provider's answer stays with the provider. Besides those that describe its connection,
 * and its encoding (the proxy has decoded the body: see `decodeContent`, `answerBody`):
 * - its CORS headers (`access-control-*`): the browser talks to this service, whose own answer (src/cors.ts) the
 *   provider's must neither replace (a header the Response carries wins over ours) nor widen
 *   (`allow-credentials`, `allow-private-network`, an origin naming the provider's own site);
 * - its cookies (`set-cookie`): they would land on this service's origin, which the provider never meant them
 *   for and where the web UI is served, and come back with no request the provider sees from the browser;
 * - its `x-content-type-options`: every `/v1` answer is `nosniff` (src/response-headers.ts), which a
 *   header the Response carries would replace.
 */
function staysWithProvider(name: string): boolean {
  return (
    HOP_BY_HOP.has(name) ||
    name === 'content-encoding' ||
    name === 'set-cookie' ||
    name === 'x-content-type-options' ||
    name.startsWith('access-control-')
  );
}

/** Upstream response headers (lower-case names) to hand to the client. */
export function forwardResponseHeaders(upstream: UpstreamHeaders): HeaderRecord {
  const headers: HeaderRecord = {};
  upstream.forEach((value, name) => {
    if (staysWithProvider(name)) return;
    // The client gets our request id; the provider's stays visible under its own name.
    headers[name === 'x-request-id' ? 'x-upstream-request-id' : name] = value;
  });
  return headers;
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
  // own (see upstream-reuse.ts): a pool's other idle connection could be closing as well.
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

/**
 * More content codings than this are refused, as fetch refuses them: each costs a decoder. Not to be retried: a provider
 * (or a proxy before it) that stacks them does so on every answer, each one paid for.
 */
const MAX_CODINGS = 5;

/** The Node streams that undo a streamed answer's Content-Encoding, last applied first; none for a coding we do not know. */
function streamDecoders(body: Readable, header: string | string[] | undefined): Transform[] {
  const codings = codingsToUndo(header, STREAM_DECODERS);
  if (codings === undefined) return [];
  if (codings.length > MAX_CODINGS) {
    body.destroy();
    throw new ApiError(502, `The upstream provider's answer has more than ${MAX_CODINGS} content codings; it was not read.`, 'server_error').notRetryable();
  }
  return codings.map((coding) => STREAM_DECODERS[coding]!());
}

/** Lenient as fetch (and curl) are: a compressed answer cut short yields what it holds rather than an error. */
const ZLIB_LENIENT = { flush: zlib.Z_SYNC_FLUSH, finishFlush: zlib.Z_SYNC_FLUSH };
const BROTLI_LENIENT = { flush: zlib.BROTLI_OPERATION_FLUSH, finishFlush: zlib.BROTLI_OPERATION_FLUSH };

/** The content codings `DECODERS` undoes for whole answers, undone as a streamed answer arrives. */
const STREAM_DECODERS: Record<string, () => Transform> = {
  gzip: () => createGunzip(ZLIB_LENIENT),
  'x-gzip': () => createGunzip(ZLIB_LENIENT),
  br: () => createBrotliDecompress(BROTLI_LENIENT),
  deflate: () => new InflateEither(),
};

/** "deflate" zlib-wrapped or bare, told apart by its first byte (see `isZlibWrapped`), which only the first chunk shows. */
class InflateEither extends Transform {
  #inflater: Transform | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.#inflater === undefined) {
      if (chunk.length === 0) return done();
      this.#inflater = (isZlibWrapped(chunk) ? createInflate : createInflateRaw)(ZLIB_LENIENT);
      this.#inflater.on('data', (out: Buffer) => this.push(out));
      this.#inflater.on('error', (err) => this.destroy(err));
    }
    this.#inflater.write(chunk, () => done());
  }

  override _flush(done: TransformCallback): void {
    if (this.#inflater === undefined) return done();
    // Done only once the inflater has handed over its last bytes.
    this.#inflater.once('end', () => done());
    this.#inflater.end();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.#inflater?.destroy();
    done(err);
  }
}

type Decoder = (bytes: Buffer, options: { maxOutputLength: number }) => Promise<Buffer>;

const inflateZlib = promisify(inflate) as Decoder;
const inflateBare = promisify(inflateRaw) as Decoder;

/** The content codings fetch decodes, decoded here too: an answer's bytes as undici hands them over are still encoded. */
const DECODERS: Record<string, Decoder> = {
  gzip: promisify(gunzip) as Decoder,
  'x-gzip': promisify(gunzip) as Decoder,
  br: promisify(brotliDecompress) as Decoder,
  deflate: (bytes, options) => (isZlibWrapped(bytes) ? inflateZlib : inflateBare)(bytes, options),
};

/** "deflate" is meant to be zlib-wrapped, but some servers send it bare: told apart by the zlib header, as fetch does. */
function isZlibWrapped(first: Buffer): boolean {
  return (first[0]! & 0x0f) === 0x08;
}

/**
 * An answer's content codings in the order to undo them (codings are listed in the order they were
 * applied: undone last first), or undefined when one of them has no decoder in `known`: such an
 * answer is left as it came, as fetch leaves it.
 */
function codingsToUndo(header: string | string[] | undefined, known: Record<string, unknown>): string[] | undefined {
  if (header === undefined) return [];
  const codings = (Array.isArray(header) ? header.join(',') : header)
    .toLowerCase()
    .split(',')
    .map((coding) => coding.trim())
    .filter((coding) => coding !== '' && coding !== 'identity');
  // Own keys only: `__proto__` (an object's, not a coding) was looked up as a decoder, and the answer became a 502.
  if (codings.some((coding) => !Object.hasOwn(known, coding))) return undefined;
  return codings.reverse();
}

/**
 * A whole answer's body with its Content-Encoding undone. The proxy asks for no encoding, but a
 * provider may compress anyway (HTTP allows it when the request names none); the client gets the
 * answer without the header, so it must get the decoded bytes. The decoded size is held to `limit`
 * too. A coding we do not know leaves the body as it came, as fetch does.
 */
async function decodeContent(bytes: Buffer, header: string | string[] | undefined, limit: number): Promise<Buffer> {
  if (header === undefined || bytes.length === 0) return bytes;
  const codings = codingsToUndo(header, DECODERS);
  if (codings === undefined) return bytes;
  for (const coding of codings) {
    try {
      bytes = await DECODERS[coding]!(bytes, { maxOutputLength: limit });
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') throw answerTooLarge(limit);
      throw new ApiError(502, `The upstream provider's answer could not be decoded (Content-Encoding: ${coding}).`, 'server_error');
    }
  }
  return bytes;
}

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
function readCapped(body: Dispatcher.ResponseData['body'], declaredLength: number, limit: number): Promise<Buffer> {
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

/** What a failed call to the provider becomes: 504 after the timeout, 502 when it could not be reached. */
export function toUpstreamFailure(err: unknown, timedOut: boolean): ApiError {
  if (timedOut) {
    return new ApiError(504, 'The upstream provider did not answer in time.', 'server_error');
  }
  // undici's request API puts the system error's code on the error itself (fetch, which streamed calls
  // used before, put it on its cause). A DOMException (an aborted call) has a numeric code, and undici's
  // own errors (UND_ERR_...) name no system error.
  const code = (err as { code?: unknown }).code;
  // Reached, but its headers were past what Node reads (16 KB by default): asking again gets the same headers.
  if (code === 'UND_ERR_HEADERS_OVERFLOW') {
    return new ApiError(502, "The upstream provider's response headers were larger than this service reads.", 'server_error').notRetryable();
  }
  const cause = typeof code === 'string' && code.startsWith('E') ? code : undefined;
  return new ApiError(
    502,
    `Could not reach the upstream provider${cause ? ` (${cause})` : ''}.`,
    'server_error',
  );
}

/**
 * The type OpenAI's API gives an error of this status: `invalid_request_error` for every 4xx (its 401 for a wrong
 * key and its 404 for an unknown model too), `requests` for a rate limit (with the code `rate_limit_exceeded`).
 */
function errorTypeForStatus(status: number): string {
  if (status === 429) return 'requests';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** OpenAI's own error body: an `error` object with all four fields, which passes to the client unchanged. */
function isErrorShape(value: unknown): value is ErrorBody {
  const error = (value as { error?: unknown } | null)?.error;
  if (typeof error !== 'object' || error === null) return false;
  const e = error as Record<string, unknown>;
  return (
    typeof e.message === 'string' &&
    typeof e.type === 'string' &&
    (e.param === null || typeof e.param === 'string') &&
    (e.code === null || typeof e.code === 'string')
  );
}

/**
 * Error types a provider's body may keep: OpenAI's own (`requests` and `tokens` are its rate limits), and the
 * per-status names some OpenAI-compatible providers use; others (vLLM's `BadRequestError`) give way to the status's.
 */
const OPENAI_ERROR_TYPES = new Set([
  'invalid_request_error',
  'requests',
  'tokens',
  'insufficient_quota',
  'authentication_error',
  'permission_error',
  'not_found_error',
  'rate_limit_error',
  'server_error',
]);

/** The most useful message in a non-OpenAI error body: vLLM's `message`, FastAPI's `detail`, a bare string, or the text itself. */
function findMessage(parsed: unknown, text: string, status: number): string {
  if (typeof parsed === 'string' && parsed !== '') return parsed;
  if (typeof parsed === 'object' && parsed !== null) {
    const p = parsed as Record<string, unknown>;
    for (const field of ['message', 'detail', 'error', 'msg']) {
      if (typeof p[field] === 'string' && p[field] !== '') return p[field] as string;
    }
    if (Array.isArray(p.detail)) return JSON.stringify(p.detail);
  }
  const plain = text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return plain === '' ? `The upstream provider answered with status ${status}.` : plain.slice(0, 1000);
}

/**
 * An upstream error body for the client: OpenAI's shape passes unchanged; any
 * other body (HTML, vLLM's `{"object":"error"}`, plain text) is rewritten into
 * it, keeping the provider's message.
 */
export function normalizeUpstreamError(status: number, text: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  // Gemini's OpenAI-compatible endpoint answers its errors as an array of one: `[{"error": {...}}]`.
  const wrapped = Array.isArray(parsed) && parsed.length > 0 && isObject(parsed[0]) && isObject(parsed[0].error);
  if (wrapped) parsed = (parsed as unknown[])[0];
  if (isErrorShape(parsed)) return wrapped ? JSON.stringify(parsed) : text;
  const outer = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  // `{"error": {...}}` missing some of the four fields: its own fields are the source, completed below.
  const nested = isObject(outer.error);
  const p = (nested ? outer.error : outer) as Record<string, unknown>;
  // OpenAI's quota error names `insufficient_quota` as both its type and its code; a body naming it as either is that.
  const quota = p.type === 'insufficient_quota' || p.code === 'insufficient_quota';
  const type = quota ? 'insufficient_quota' : typeof p.type === 'string' && OPENAI_ERROR_TYPES.has(p.type) ? p.type : errorTypeForStatus(status);
  const body: ErrorBody = {
    error: {
      message: findMessage(nested ? p : parsed, text, status),
      type,
      param: typeof p.param === 'string' ? p.param : null,
      code: quota ? 'insufficient_quota' : typeof p.code === 'string' ? p.code : status === 429 ? 'rate_limit_exceeded' : null,
    },
  };
  return JSON.stringify(body);
}
