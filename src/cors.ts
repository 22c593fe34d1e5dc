import type { Context } from 'hono';
import { cors } from 'hono/cors';
import type { Answer } from './observability.ts';
import { nodeResponse } from './response-headers.ts';

// Browser apps (the SDKs' dangerouslyAllowBrowser) reach OpenAI across origins;
// its API answers CORS preflights, which carry no key, so they are answered
// before authentication. A key is still required for every real request, so
// allowing any origin (the default, as OpenAI does) grants nothing that the key
// does not; CORS_ORIGINS narrows it for an operator whose keys a web page could
// guess (pass-through mode with UPSTREAM_API_KEY lets any key in).

/**
 * What a page may read of an answer: the headers the SDKs act on (`x-should-retry`, `retry-after-ms`, `retry-after`:
 * without them a browser hides a 502 that must not be retried, or a 429's wait, and the SDK retries at once) and
 * the request id, then the ones OpenAI documents on every answer (the provider's, relayed).
 */
const EXPOSED_HEADERS = [
  'x-request-id',
  'x-should-retry',
  'retry-after',
  'retry-after-ms',
  'openai-organization',
  'openai-processing-ms',
  'openai-version',
  'x-ratelimit-limit-requests',
  'x-ratelimit-limit-tokens',
  'x-ratelimit-remaining-requests',
  'x-ratelimit-remaining-tokens',
  'x-ratelimit-reset-requests',
  'x-ratelimit-reset-tokens',
];
const MAX_AGE_SECONDS = 600;

/**
 * CORS for /v1, around an endpoint's answer: Hono's middleware answers
 * preflights; on every other request under Node the two headers it would add
 * go straight onto the Node response (see `setResponseHeader` for why that is
 * much cheaper than through Hono), and the answer is the endpoint's own, at
 * once when it has one at once. The provider's own CORS headers never reach an
 * answer (`forwardResponseHeaders`): these are the only ones.
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
