import type { ServerResponse } from 'node:http';
import type { Context } from 'hono';

/** The Node response under @hono/node-server; undefined when the app is called in-process (`app.fetch`). */
export function nodeResponse(c: Context): ServerResponse | undefined {
  return (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
}

/**
 * Puts a header on whatever response the request gets, set by middleware
 * before the handler runs (the request id, CORS).
 *
 * Under Node it goes on the ServerResponse, whose `writeHead` merges it with
 * the Response's own headers. Through Hono (`c.header`) it would cost far more
 * per request: Hono keeps it in a `Headers` object and copies that into every
 * Response, which then leaves the adapter's fast path for plain headers; and
 * once middleware has touched `c.res`, Hono rebuilds the handler's Response
 * around it, which turns a string body into a web stream (a third of a small
 * request's time in the profile). Called in-process, there is no Node
 * response: the header goes through Hono.
 *
 * A header the Response itself carries wins over one set here: callers that
 * must win over a handler's header (an upstream's, forwarded) remove it there.
 */
export function setResponseHeader(c: Context, name: string, value: string): void {
  const outgoing = nodeResponse(c);
  if (outgoing) outgoing.setHeader(name, value);
  else c.header(name, value);
}

/**
 * On every answer under /v1 (docs/api.md, "Response headers"): each holds a project's data or an error about a
 * request for it. `no-store` keeps it out of the browser's cache and out of any proxy's (a shared machine's next
 * user, a cache that keys on the URL alone); `nosniff` has a browser read it only as the type it says it is (an
 * error that echoes a path stays JSON, never HTML). Set on the Node response like the request id, two constant
 * headers and no object of ours per request; so a relayed answer's own Cache-Control, which its Response carries,
 * wins: the provider knows its resource (an event stream's `no-cache`, a model list it lets be kept).
 */
export function setApiAnswerHeaders(c: Context): void {
  const outgoing = nodeResponse(c);
  if (outgoing) {
    outgoing.setHeader('cache-control', 'no-store');
    outgoing.setHeader('x-content-type-options', 'nosniff');
  } else {
    c.header('cache-control', 'no-store');
    c.header('x-content-type-options', 'nosniff');
  }
}
