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
