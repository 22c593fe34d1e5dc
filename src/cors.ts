import type { Context } from 'hono';
import { cors } from 'hono/cors';
import type { Answer } from './observability.ts';
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
 * CORS for /v1, around an endpoint's answer: Hono's middleware answers
 * preflights; on every other request under Node the two headers it would add
 * go straight onto the Node response (see `setResponseHeader` for why that is
 * much cheaper than through Hono), and the answer is the endpoint's own, at
 * once when it has one at once.
 */
export function apiCors(): (c: Context, answer: () => Answer) => Answer {
  const honoCors = cors(OPTIONS);
  return (c, answer) => {
    const outgoing = nodeResponse(c);
    if (c.req.method !== 'OPTIONS' && outgoing) {
      for (const [name, value] of ANSWER_HEADERS) outgoing.setHeader(name, value);
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
