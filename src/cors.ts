import type { Context } from 'hono';
import { cors } from 'hono/cors';
import type { Answer } from './observability.ts';
import { nodeResponse } from './response-headers.ts';
import type { Upstream } from './upstream.ts';

/**
 * Browser apps (the SDKs' dangerouslyAllowBrowser) reach OpenAI across origins;
 * its API answers CORS preflights, which carry no key, so they are answered
 * before authentication. A key is still required for every real request, so
 * allowing any origin (the default, as OpenAI does) grants nothing that the key
 * does not; CORS_ORIGINS narrows it for an operator whose keys a web page could
 * guess (pass-through mode with UPSTREAM_API_KEY lets any key in).
 */
const EXPOSED_HEADERS = ['x-request-id'];
const MAX_AGE_SECONDS = 600;

/** The headers this service sets for CORS on an answer; the provider's own are dropped (`withoutProviderCors`). */
const ANSWER_HEADER_NAMES = ['access-control-allow-origin', 'access-control-expose-headers'];

/**
 * CORS for /v1, around an endpoint's answer: Hono's middleware answers
 * preflights; on every other request under Node the two headers it would add
 * go straight onto the Node response (see `setResponseHeader` for why that is
 * much cheaper than through Hono), and the answer is the endpoint's own, at
 * once when it has one at once.
 */
export function apiCors(origins: '*' | readonly string[]): (c: Context, answer: () => Answer) => Answer {
  const allowed = origins === '*' ? undefined : new Set(origins);
  const honoCors = cors({
    origin: allowed === undefined ? '*' : (origin) => (allowed.has(origin) ? origin : null),
    exposeHeaders: EXPOSED_HEADERS,
    maxAge: MAX_AGE_SECONDS,
  });
  const exposed = EXPOSED_HEADERS.join(',');
  return (c, answer) => {
    const outgoing = nodeResponse(c);
    if (c.req.method !== 'OPTIONS' && outgoing) {
      if (allowed === undefined) {
        outgoing.setHeader('access-control-allow-origin', '*');
        outgoing.setHeader('access-control-expose-headers', exposed);
      } else {
        // The answer depends on the Origin: a cache in front must not hand one origin's answer to another.
        outgoing.setHeader('vary', 'Origin');
        const origin = c.req.header('origin');
        if (origin !== undefined && allowed.has(origin)) {
          outgoing.setHeader('access-control-allow-origin', origin);
          outgoing.setHeader('access-control-expose-headers', exposed);
        }
      }
      return answer();
    }
    // A preflight, or a call in-process (no Node response): Hono's middleware, which answers the preflight
    // itself and otherwise puts its headers on `c.res`, merged into the answer when it is assigned there.
    return honoCors(c, async () => {
      c.res = await answer();
    }).then((preflight) => preflight ?? c.res);
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
      if (!ANSWER_HEADER_NAMES.some((name) => response.headers.has(name))) return response;
      const headers = new Headers();
      response.headers.forEach((value, name) => {
        if (!ANSWER_HEADER_NAMES.includes(name)) headers.append(name, value);
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
