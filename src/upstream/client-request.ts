import type { UpstreamRequest } from './client.ts';
import type { ClientHeaders } from './headers.ts';

/** What a call to the provider reads of the client's request as the Node adapter hands it over: headers, query, connection. */

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
