import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { answerClientError, answerConnect, answerRequestError, answerUnmetExpectation, withHostRequired } from './client-error.ts';
import type { Config } from './config.ts';
import { connectionTimeouts } from './connection-timeouts.ts';

type Fetch = Parameters<typeof getRequestListener>[0];

/**
 * The Node HTTP server around the app, not yet listening: the connection limits of the config, and
 * every request the app never sees (refused by Node's parser, or by the adapter) answered in
 * OpenAI's error shape. Built here rather than with the adapter's `serve()`, which does not pass
 * an `errorHandler` on: the adapter's own answer to a Host that is no host is a bare 400.
 */
export function createHttpServer(
  fetch: Fetch,
  config: Pick<Config, 'host' | 'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs'>,
): Server {
  const listener = getRequestListener(fetch, { hostname: config.host, errorHandler: answerRequestError });
  const server = createServer({ ...connectionTimeouts(config), requireHostHeader: false }, inTurnOnItsConnection(withHostRequired(listener)));
  server.on('clientError', answerClientError);
  server.on('connect', answerConnect);
  server.on('checkExpectation', answerUnmetExpectation);
  return server;
}

/** Requests that may wait their turn on one connection; past this, the next are handled at once, as Node does. */
const MAX_WAITING = 32;

/** How many requests wait their turn on each connection. */
const waitingOn = new WeakMap<object, number>();

/**
 * A request pipelined behind earlier ones (sent on one connection without waiting for the answers) waits until
 * they are answered. Node hands each request to the app as soon as it is parsed and only queues the answers, so a
 * list pipelined after a create ran beside it and did not list it (RFC 9112 allows handling pipelined requests in
 * parallel only when all are safe). A request whose response has no socket yet is behind an earlier one still
 * being answered; Node gives it the socket once every earlier answer is written, after the writes they made were
 * committed. Only a request without a body waits (a read, a delete): one with a body waiting would not have it
 * read, so Node would take it for one that never finished arriving and cut the connection (REQUEST_TIMEOUT_MS) in
 * the middle of the answer ahead of it; it is handled at once, as before. At most MAX_WAITING wait on a
 * connection: requests that wait write nothing, so Node's own brake (it stops reading a connection whose queued
 * answers pile up) never engages for them, and a flood of them behind one slow answer would fill the memory. A
 * client that waits for each answer (every SDK) never waits here.
 */
function inTurnOnItsConnection(listener: (req: IncomingMessage, res: ServerResponse) => unknown) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (res.socket !== null || !isBodiless(req)) {
      void listener(req, res);
      return;
    }
    const socket = req.socket;
    const waiting = waitingOn.get(socket) ?? 0;
    if (waiting >= MAX_WAITING) {
      void listener(req, res);
      return;
    }
    waitingOn.set(socket, waiting + 1);
    // Never emitted when the connection closes first: the request is then dropped with it, unanswered.
    res.once('socket', () => {
      waitingOn.set(socket, (waitingOn.get(socket) ?? 1) - 1);
      void listener(req, res);
    });
  };
}

function isBodiless(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0');
}
