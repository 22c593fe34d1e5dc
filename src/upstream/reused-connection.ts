import { subscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';

/**
 * HTTP/1.1's keep-alive race, told apart: a provider closes a connection it kept open, idle, at the moment the
 * service sends the next request on it, and that request fails with a reset (ECONNRESET, EPIPE, or undici's
 * "other side closed") before any byte of an answer. The provider never read it, so it may be sent again on a new
 * connection (as browsers do, and Go's client for a request it can replay). Which connection carried a request is
 * known only to undici: its diagnostics channels (docs/api/DiagnosticsChannel.md, its documented way to observe
 * that) name the socket each request is written on and the error each request ends with, the very object the
 * call rejects with. undici's own retry (RetryAgent) cannot tell a reused connection from a new one, and would
 * retry a provider's 5xx answers, which the proxy hands on.
 */

/** Requests undici wrote on each socket: a socket with one already is a reused connection. */
const requestsWritten = new WeakMap<Socket, number>();

/** Each request written on a reused connection: its socket, and the bytes that socket had read when it was sent. */
const sentOnReused = new WeakMap<object, { socket: Socket; bytesRead: number }>();

/** Errors that ended such a request with the connection reset and no byte of an answer read. */
const unansweredOnReused = new WeakSet<object>();

/** The errors of a connection closed under a request; a timeout, an abort or a refused connection is none of them. */
const CONNECTION_CLOSED = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

subscribe('undici:client:sendHeaders', (message) => {
  const { request, socket } = message as { request: object; socket: Socket };
  const written = requestsWritten.get(socket) ?? 0;
  requestsWritten.set(socket, written + 1);
  if (written > 0) sentOnReused.set(request, { socket, bytesRead: socket.bytesRead });
});

subscribe('undici:request:error', (message) => {
  const { request, error } = message as { request: object; error: unknown };
  const sent = sentOnReused.get(request);
  if (sent === undefined || typeof error !== 'object' || error === null) return;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && CONNECTION_CLOSED.has(code) && sent.socket.bytesRead === sent.bytesRead) unansweredOnReused.add(error);
});

/** Whether `err` ended a request on a reused connection that the provider closed before answering any of it. */
export function closedUnansweredOnReusedConnection(err: unknown): boolean {
  return typeof err === 'object' && err !== null && unansweredOnReused.has(err);
}
