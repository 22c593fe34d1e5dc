import { createServer, type Server } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { answerClientError, answerRequestError, answerUnmetExpectation } from './client-error.ts';
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
  const server = createServer(connectionTimeouts(config), listener);
  server.on('clientError', answerClientError);
  server.on('checkExpectation', answerUnmetExpectation);
  return server;
}
