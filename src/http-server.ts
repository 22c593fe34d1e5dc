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

/**
 * Pipelined requests (sent on one connection without waiting for the answers) are handled one after the other.
 * Node hands each to the app as soon as it is parsed and only queues the answers, so a read pipelined after a
 * write ran beside it and answered from before it: a list sent after a create did not list it (RFC 9112 allows
 * handling pipelined requests in parallel only when all are safe). A request whose response has no socket yet
 * waits behind an earlier one still being answered; Node gives it the socket once every earlier answer is
 * written, after the write it may depend on was committed. A client that waits for each answer (every SDK)
 * never waits here.
 */
function inTurnOnItsConnection(listener: (req: IncomingMessage, res: ServerResponse) => unknown) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (res.socket !== null) {
      void listener(req, res);
      return;
    }
    // Never emitted when the connection closes first: the request is then dropped with it, unanswered.
    res.once('socket', () => void listener(req, res));
  };
}
