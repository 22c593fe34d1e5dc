import type { Context } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { ApiError } from '../errors.ts';
import { relayedBody } from '../upstream/body-reading.ts';
import type { Upstream, UpstreamResponse } from '../upstream/client.ts';
import { clientGoneWatch, clientHeadersOf } from '../upstream/client-request.ts';
import { forwardResponseHeaders } from '../upstream/headers.ts';
import { upstreamErrorResponse } from './upstream-errors.ts';

export interface PassthroughDeps {
  upstream: Upstream;
  bodyLimitBytes: number;
}

/**
 * Our own resources: a method or path we do not serve there is our 404, not the provider's business.
 * Everything under /v1/stored-completions/ is ours (docs/api.md): never forwarded.
 *
 * The name ends at anything that cannot go on with a name (a letter, a digit, `-`, `_`), not only at a `/`:
 * a lenient server ends a path at a decoded `?` or `#` (`%3F`, `%23`), trims blanks and control characters
 * (`%20`, `%00`, NBSP, the ideographic space), drops a trailing `.` or `~`, or takes `？` for `?`. Each of those
 * would have it read `/v1/chat/completions%3Fx` as its chat completions, sent `store` and `metadata`.
 * `/v1/chat/completions-like` is another name, and goes to the provider.
 */
const OWN_PATH = /^\/v1\/(?:chat\/completions|stored-completions)(?![\p{L}\p{N}_-])/u;

/**
 * The path as a lenient server could read it: escapes decoded (`%2F` is a `/`, `%252F` too, for a
 * chain of servers that each decode once), backslashes as slashes, `;params` dropped from each
 * segment, runs of slashes as one, any case. A provider that reads `/v1//chat/completions` or
 * `/v1/chat%2Fcompletions` as its chat completions would be sent `store` and `metadata`, and store
 * nothing here: such spellings of our paths are our 404 too. Only ASCII escapes are decoded, each on
 * its own: a malformed or non-ASCII escape elsewhere in the path must not leave a `%2F` unread (the
 * router has decoded the valid non-ASCII ones). Unicode is compared as NFKC, as a server that
 * normalizes it reads it: `ｃhat` is `chat`, `．．` is `..`, `／` is `/`, `？` is `?`.
 */
function lenientPath(path: string): string {
  let decoded = path;
  for (let round = 0; round < 4; round++) {
    const next = decoded.replace(/%([0-7][0-9a-f])/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    if (next === decoded) break;
    decoded = next;
  }
  return decoded
    .normalize('NFKC')
    .replaceAll('\\', '/')
    .replace(/;[^/]*/g, '')
    .replace(/\/{2,}/g, '/')
    .toLowerCase();
}

/**
 * A `.` or `..` segment that appears only once the path is read leniently (`/v1/..%2Fadmin`): the
 * URL parser resolved every plain one already, so this one is meant for a server that decodes
 * before it resolves, where it would climb out of the provider's `/v1` with the tenant's upstream
 * credentials (UPSTREAM_API_KEY) to whatever else that host serves.
 */
const HIDDEN_DOT_SEGMENT = /(^|\/)\.\.?(\/|$)/;

/**
 * Never forwarded: a provider that answers TRACE echoes the request back, the tenant's upstream
 * credentials (UPSTREAM_API_KEY) with it. fetch refused it on its own; undici's request API sends any
 * method. (TRACK, its twin, never gets past Node's HTTP parser.)
 */
const ECHOING_METHOD = 'TRACE';

/** The request body as a stream that fails past `limit` bytes, so nothing is buffered and nothing unbounded goes upstream. */
function limitBody(body: ReadableStream<Uint8Array>, limit: number, onExceeded: () => void): ReadableStream<Uint8Array> {
  let size = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        size += chunk.byteLength;
        if (size > limit) {
          onExceeded();
          controller.error(ApiError.bodyTooLarge(limit));
          return;
        }
        controller.enqueue(chunk);
      },
    }),
  );
}

/**
 * Every other `/v1/...` route (models, embeddings, responses, files, audio, ...):
 * sent to the provider as it came, any method, bodies streamed both ways and
 * nothing stored. Only the credentials change (the tenant's upstream key), as
 * for chat completions. Error statuses get the same normalization as there, so
 * clients always read OpenAI's error shape.
 */
export function createPassthroughHandler({ upstream, bodyLimitBytes }: PassthroughDeps) {
  return async (c: Context<AppEnv>): Promise<Response> => {
    const path = c.req.path;
    const lenient = lenientPath(path);
    if (OWN_PATH.test(lenient) || HIDDEN_DOT_SEGMENT.test(lenient) || c.req.method === ECHOING_METHOD) {
      throw ApiError.invalidUrl(c.req.method, path);
    }

    const contentLength = c.req.header('content-length');
    const declared = Number(contentLength);
    if (Number.isFinite(declared) && declared > bodyLimitBytes) throw ApiError.bodyTooLarge(bodyLimitBytes);
    let exceeded = false;
    const raw = c.req.raw.body;
    const body = raw ? limitBody(raw, bodyLimitBytes, () => (exceeded = true)) : null;

    // The path and query exactly as sent (still percent-encoded), minus the `/v1` our base URL already ends with.
    const url = new URL(c.req.url);
    let response: UpstreamResponse;
    try {
      response = await upstream.send(url.pathname.slice('/v1'.length) + url.search, {
        method: c.req.method,
        headers: clientHeadersOf(c.req.raw, c.env),
        authorization: c.get('tenant').upstreamAuthorization,
        body,
        ...clientGoneWatch(c.req.raw, c.env),
        streamed: true,
        ...(body && contentLength !== undefined && /^\d+$/.test(contentLength) ? { contentLength } : {}),
      });
    } catch (err) {
      if (exceeded) {
        // The rest of the body is never read: the connection is closed after the 413 (see readBody).
        c.header('connection', 'close');
        throw ApiError.bodyTooLarge(bodyLimitBytes);
      }
      throw err;
    }
    if (response.status >= 400 && c.req.method !== 'HEAD') return upstreamErrorResponse(c, response, upstream);

    const headers = forwardResponseHeaders(response.headers);
    const length = response.headers.get('content-length');
    // A HEAD answer has no body to decode (see `answerBody`): its length still describes the resource, unless it is an encoded one's.
    if (c.req.method === 'HEAD' && length !== null && !response.headers.has('content-encoding')) headers['content-length'] = length;
    if (!response.body) return c.body(null, response.status as 200, headers);
    return c.body(relayedBody(c, response.body, upstream.timeoutMs), response.status as 200, headers);
  };
}
