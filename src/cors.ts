import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { nodeResponse } from './response-headers.ts';
import type { Upstream } from './upstream.ts';

/**
 * Browser apps (the SDKs' dangerouslyAllowBrowser) reach OpenAI across origins;
 * its API answers CORS preflights, which carry no key, so they are answered
 * before authentication. A key is still required for every real request, so
 * allowing any origin grants nothing.
 */
const OPTIONS = { origin: '*', exposeHeaders: ['x-request-id'], maxAge: 600 };

/** What Hono's cors middleware puts on every answer that is not a preflight, with OPTIONS above. */
const ANSWER_HEADERS: [name: string, value: string][] = [
  ['access-control-allow-origin', OPTIONS.origin],
  ['access-control-expose-headers', OPTIONS.exposeHeaders.join(',')],
];

/**
 * CORS for /v1: Hono's middleware answers preflights; on every other request
 * under Node the two headers it would add go straight onto the Node response
 * (see `setResponseHeader` for why that is much cheaper than through Hono).
 */
export function apiCors(): MiddlewareHandler {
  const honoCors = cors(OPTIONS);
  return (c, next) => {
    const outgoing = nodeResponse(c);
    if (c.req.method === 'OPTIONS' || !outgoing) return honoCors(c, next);
    for (const [name, value] of ANSWER_HEADERS) outgoing.setHeader(name, value);
    return next();
  };
}

/**
 * The provider's answers without its own CORS headers: the browser talks to
 * this service, whose CORS headers answer for it (a provider's
 * `access-control-allow-origin` naming its own site would lock browsers out).
 * A header on the Response wins over one set on the Node response, so they go
 * here, before any handler forwards the provider's headers.
 */
export function withoutProviderCors(upstream: Upstream): Upstream {
  return {
    ...upstream,
    async send(path, request) {
      const response = await upstream.send(path, request);
      if (!ANSWER_HEADERS.some(([name]) => response.headers.has(name))) return response;
      const headers = new Headers();
      response.headers.forEach((value, name) => {
        if (!ANSWER_HEADERS.some(([answerName]) => answerName === name)) headers.append(name, value);
      });
      for (const cookie of response.headers.getSetCookie()) headers.append('set-cookie', cookie);
      // The answer itself is left as it is (a whole one already read, or a stream): only its headers change.
      return {
        status: response.status,
        ok: response.ok,
        headers,
        get body() {
          return response.body;
        },
        text: () => response.text(),
      };
    },
  };
}
