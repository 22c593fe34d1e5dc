import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { answerClientError, answerConnect, answerRequestError, answerTooManyPipelined, answerUnmetExpectation, withHostRequired } from './client-error.ts';
import type { Config } from './config.ts';
import { connectionTimeouts } from './connection-timeouts.ts';

type Fetch = Parameters<typeof getRequestListener>[0];

/**
 * The largest request line and headers taken (431 above). Node's default, 16 KiB, refused list queries the
 * contract allows: a metadata filter may hold 16 pairs of 64-character keys and 512-character values, as on
 * create, and the SDKs percent-encode each character, 12 bytes for one past U+FFFF, so four values of Chinese
 * text were already over it. The longest valid query (that filter, a 1000-character `search`, an `after` id of
 * 256 characters) comes to about 126 KB; this leaves room for the headers beside it.
 */
export const MAX_REQUEST_HEAD_BYTES = 256 * 1024;

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
  const server = createServer(
    { ...connectionTimeouts(config), requireHostHeader: false, maxHeaderSize: MAX_REQUEST_HEAD_BYTES },
    inTurnOnItsConnection(withHostRequired(listener)),
  );
  server.on('clientError', answerClientError);
  server.on('connect', answerConnect);
  server.on('checkExpectation', answerUnmetExpectation);
  return server;
}

/** Pipelined requests under way on one connection (waiting or handled); past this, the next are refused at once. */
const MAX_PIPELINED = 32;

/** How many pipelined requests are under way on each connection (one whose answer has not closed yet). */
const pipelinedOn = new WeakMap<object, number>();

/**
 * Requests pipelined on one connection (sent without waiting for the answers). Node hands each to the app as soon
 * as it is parsed and only queues the answers, so a list pipelined after a create ran beside it and did not list
 * it (RFC 9112 allows handling pipelined requests in parallel only when all are safe). A request whose response
 * has no socket yet is behind an earlier one still being answered; Node gives it the socket once every earlier
 * answer is written, after the writes they made were committed. So:
 * - a request without a body (a read, a delete) waits for that; one with a body is handled at once, as before:
 *   waiting, its body would not be read, and Node would take it for a request that never finished arriving and cut
 *   the connection (REQUEST_TIMEOUT_MS) in the middle of the answer ahead of it;
 * - at most MAX_PIPELINED are under way on a connection, the next answered at once with a 429. Node stops reading a
 *   connection only once its queued answers pile up, and requests that wait, or wait on the provider, write
 *   nothing: a flood of them behind one slow answer filled the memory until the process died. The 429s it gets
 *   instead are queued answers, which engage that brake.
 * A request that is not pipelined (every SDK waits for each answer) costs one property read here.
 */
function inTurnOnItsConnection(listener: (req: IncomingMessage, res: ServerResponse) => unknown) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (res.socket !== null) {
      void listener(req, res);
      return;
    }
    const socket = req.socket;
    const underWay = pipelinedOn.get(socket) ?? 0;
    if (underWay >= MAX_PIPELINED) {
      answerTooManyPipelined(req, res, MAX_PIPELINED);
      return;
    }
    pipelinedOn.set(socket, underWay + 1);
    res.once('close', () => pipelinedOn.set(socket, (pipelinedOn.get(socket) ?? 1) - 1));
    if (!isBodiless(req)) {
      void listener(req, res);
      return;
    }
    // Never emitted when the connection closes first: the request is then dropped with it, unanswered.
    res.once('socket', () => void listener(req, res));
  };
}

function isBodiless(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0');
}
