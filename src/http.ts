import type { Context } from 'hono';
import { ApiError, describeJsonType } from './errors.ts';
import { rememberExactIntegers } from './exact-integers.ts';
import type { Config } from './config.ts';
import { isObject, jsonTextExceeds } from './json.ts';
import { decodeRequestBody } from './request-encoding.ts';

/** Deeper JSON than this is refused: nothing legitimate nests so far, and re-serializing it could overflow the stack. */
const MAX_JSON_DEPTH = 128;

const tooDeep = () => ApiError.badRequest(`Invalid body: JSON nested deeper than ${MAX_JSON_DEPTH} levels.`, null, 'invalid_value');

const tooManyValues = (max: number) => ApiError.badRequest(`Invalid body: more than ${max} JSON values and object keys.`, null, 'invalid_value');

/** What a JSON body may be: so many bytes (413 above), so many values (400 above). */
export type BodyLimits = Pick<Config, 'bodyLimitBytes' | 'bodyLimitValues'>;

/** Reads the body (decoded when sent compressed), refusing (413) more than `limit` bytes whatever Content-Length claims. */
export async function readBody(c: Context, limit: number): Promise<Uint8Array> {
  const tooLarge = () => ApiError.bodyTooLarge(limit);
  const declared = Number(c.req.header('content-length'));
  if (Number.isFinite(declared) && declared > limit) throw tooLarge();
  // Under @hono/node-server the Node request is at hand: iterating it directly costs a fraction of
  // the web ReadableStream that wraps it (which showed in the create path's profile).
  const incoming = (c.env as { incoming?: AsyncIterable<Uint8Array> & { readableEnded?: boolean } } | undefined)?.incoming;
  const stream = incoming ?? (c.req.raw.body as unknown as AsyncIterable<Uint8Array> | null);
  if (!stream) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      size += chunk.byteLength;
      if (size > limit) {
        // The rest of the body is never read: the connection cannot carry another request, and a client that
        // pooled it (fetch, the SDKs) met a reset on its next one. Closed after the 413 instead.
        c.header('connection', 'close');
        throw tooLarge();
      }
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof ApiError) throw err;
    // The client went away or sent a broken body: its fault, not a server error worth a 500 in the logs.
    throw ApiError.badRequest('We could not read the body of your request: the connection ended before the body was complete.');
  }
  return decodeRequestBody(Buffer.concat(chunks), c.req.header('content-encoding'), limit);
}

/** The body as a JSON object, or OpenAI's 400 for anything else. */
export async function readJsonObject(c: Context, limits: BodyLimits): Promise<Record<string, unknown>> {
  return (await readJsonObjectText(c, limits)).object;
}

/** The body as a JSON object and the text it was parsed from (what is sent on should be what the client wrote). */
export async function readJsonObjectText(c: Context, limits: BodyLimits): Promise<{ object: Record<string, unknown>; text: string }> {
  const raw = await readBody(c, limits.bodyLimitBytes);
  // Before parsing: JSON.parse spends seconds of the only thread on a body of brackets or of many small values (jsonTextExceeds).
  const exceeded = jsonTextExceeds(raw, { depth: MAX_JSON_DEPTH, values: limits.bodyLimitValues });
  if (exceeded === 'depth') throw tooDeep();
  if (exceeded === 'values') throw tooManyValues(limits.bodyLimitValues);
  let parsed: unknown;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
    parsed = JSON.parse(text);
  } catch {
    throw ApiError.invalidJson();
  }
  if (!isObject(parsed)) {
    throw ApiError.badRequest(
      `Invalid body: expected a JSON object, but got ${describeJsonType(parsed)} instead.`,
      null,
      'invalid_type',
    );
  }
  rememberExactIntegers(parsed, text);
  return { object: parsed, text };
}

/**
 * The request's Authorization header. Under @hono/node-server it is read from
 * the headers Node has already parsed: through Hono, every request would build a
 * web `Headers` from the raw ones first. Node keeps the first of two
 * Authorization headers (a web `Headers` would join them).
 */
export function authorizationHeader(c: Context): string | undefined {
  const incoming = (c.env as { incoming?: { headers: { authorization?: string } } } | undefined)?.incoming;
  return incoming ? incoming.headers.authorization : c.req.header('authorization');
}

/** A JSON text we already hold, as a string or as UTF-8 bytes (a list page built in SQL), sent without re-serializing. */
export function jsonText(c: Context, text: string | Uint8Array<ArrayBuffer>, status: 200 | 201 = 200): Response {
  return c.body(text, status, { 'content-type': 'application/json' });
}

/** The query string as URLSearchParams (keys and values percent-decoded, `+` as space). */
export function queryParams(c: Context): URLSearchParams {
  const url = c.req.url;
  const q = url.indexOf('?');
  return new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
}
