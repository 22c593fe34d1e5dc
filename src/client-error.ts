import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { RequestError } from '@hono/node-server';
import { ApiError } from './errors.ts';
import { newRequestId } from './wire.ts';

/**
 * Node's answer to a request its HTTP parser refuses (a Content-Length that is
 * not a number, bytes after a body shorter than its Content-Length claimed,
 * headers over the size limit) is a bare `400` with no body. This writes the
 * same status in OpenAI's error shape, so every answer a client can read has it.
 * Install with `server.on('clientError', answerClientError)`.
 */
/** Status, reason phrase and message for what Node's parser or its connection timers refused. */
const CLIENT_ERRORS: Record<string, [number, string, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'The request line and headers are larger than this server accepts.'],
  // HEADERS_TIMEOUT_MS or REQUEST_TIMEOUT_MS ran out before the whole request arrived.
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'The request was not received in time.'],
  default: [400, 'Bad Request', 'We could not parse your HTTP request.'],
};

/** Connections the server cut itself (its timeouts, a request it could not parse): not a client that left. */
const cutByServer = new WeakSet<object>();

/** Whether the server cut this connection (observability.ts: such a request is not counted as a client's 499). */
export function wasCutByServer(socket: object | null | undefined): boolean {
  return socket != null && cutByServer.has(socket);
}

/**
 * Whether an answer other than the refused request's own is under way on the connection: one whose head went out
 * (a stream), or an earlier request's, which has arrived whole (pipelined before the one refused). Bytes written
 * now would land inside that answer, or be read as it. The refused request's own response (its headers arrived,
 * its body is what failed: a timeout, a bad chunk) has an incomplete request and nothing sent: it gets its error,
 * as Node answers it. Read from the socket's response in progress, as Node itself reads it.
 */
function answerUnderWay(socket: Duplex): boolean {
  const current = (socket as Duplex & { _httpMessage?: { headersSent?: boolean; req?: { complete?: boolean } } | null })._httpMessage;
  return current != null && (current.headersSent === true || current.req?.complete === true);
}

export function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  // A reset or a timed-out socket has no one left to answer: the client went. One carrying another answer is cut
  // without a word of its own, rather than with an error written into that answer or read as it (Node's own
  // handler holds back only once that answer's head went out).
  if (err.code === 'ECONNRESET' || !socket.writable || answerUnderWay(socket)) {
    socket.destroy();
    return;
  }
  // The client ending its side midway through a body is the client going, not the server cutting it.
  if (err.code !== 'HPE_INVALID_EOF_STATE') cutByServer.add(socket);
  const [status, reason, message] = CLIENT_ERRORS[err.code ?? ''] ?? CLIENT_ERRORS.default!;
  const body = JSON.stringify(new ApiError(status, message, 'invalid_request_error').toBody());
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\nx-request-id: ${newRequestId()}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/**
 * The same for a request Node parsed but @hono/node-server refuses to turn into a Request: a Host
 * header that is no host (`a b`, `x/y`), a backslash in the path, `OPTIONS *`. Its own answer is a
 * bare `400` with no body. Pass as `errorHandler` to `serve`. Anything else that reaches it
 * (the app threw before it had an answer, which Hono's own error handling should prevent) is a 500
 * in the same shape, as the app's onError answers one.
 */
export function answerRequestError(err: unknown): Response {
  const [status, message] =
    err instanceof RequestError
      ? [400, CLIENT_ERRORS.default![2]]
      : [500, 'The server had an error while processing your request. Sorry about that!'];
  const body = new ApiError(status, message, status === 400 ? 'invalid_request_error' : 'server_error').toBody();
  return Response.json(body, { status, headers: { 'x-request-id': newRequestId() } });
}

/**
 * A request whose `Expect` is anything but `100-continue`, which Node otherwise answers with a bare
 * `417` and no body. The same status in OpenAI's error shape. Install with
 * `server.on('checkExpectation', answerUnmetExpectation)`.
 */
export function answerUnmetExpectation(_request: IncomingMessage, response: ServerResponse): void {
  answerWithError(response, 417, "The request's Expect header asks for what this server does not do: only 100-continue is.");
}

/** An answer in OpenAI's error shape written on a response Node made, closing the connection after it. */
function answerWithError(response: ServerResponse, status: number, message: string): void {
  const body = JSON.stringify(new ApiError(status, message, 'invalid_request_error').toBody());
  response.writeHead(status, { 'content-type': 'application/json', 'x-request-id': newRequestId(), 'content-length': Buffer.byteLength(body), connection: 'close' });
  response.end(body);
}

/**
 * An HTTP/1.1 request without a Host header, which the protocol requires (RFC 9112 §3.2: a 400). Node's own
 * answer is a bare `400` with no body and no log line; the server is built with `requireHostHeader: false` and
 * this gives the same status in OpenAI's error shape. HTTP/1.0 has no Host to require.
 */
export function withHostRequired<T>(listener: (req: IncomingMessage, res: ServerResponse) => T) {
  return (req: IncomingMessage, res: ServerResponse): T | void => {
    if (req.headers.host === undefined && req.httpVersionMajor === 1 && req.httpVersionMinor >= 1) {
      answerWithError(res, 400, 'The request has no Host header; it must name the host it is sent to.');
      return;
    }
    return listener(req, res);
  };
}

/**
 * A `CONNECT` (a tunnel through a proxy, which this server is not): without a listener Node closes the connection
 * without a word. It gets the 404 every method the service does not serve gets. Install with
 * `server.on('connect', answerConnect)`.
 */
export function answerConnect(request: IncomingMessage, socket: Duplex): void {
  // Pipelined behind a request still being answered, the 404 would be read as that request's answer: closed instead.
  if (answerUnderWay(socket)) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(new ApiError(404, `Invalid URL (CONNECT ${request.url ?? ''})`, 'invalid_request_error').toBody());
  socket.end(
    `HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\nx-request-id: ${newRequestId()}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/**
 * The answer to a request pipelined past the limit of those under way on one connection (src/http-server.ts): a
 * 429 in OpenAI's error shape, queued behind the answers ahead of it like any other. The connection stays open.
 */
export function answerTooManyPipelined(request: IncomingMessage, response: ServerResponse, limit: number): void {
  // Its body read and dropped: left unread, it would stop Node reading the connection, and the request, never
  // arriving whole, would have the connection cut for REQUEST_TIMEOUT_MS with every answer ahead of it.
  request.resume();
  const body = JSON.stringify(
    new ApiError(429, `Too many requests pipelined on one connection: at most ${limit} are handled at a time. Send the rest once answers come back.`, 'invalid_request_error').toBody(),
  );
  response.writeHead(429, { 'content-type': 'application/json', 'x-request-id': newRequestId(), 'content-length': Buffer.byteLength(body) });
  response.end(body);
}
