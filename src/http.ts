import { isAscii, isUtf8 } from 'node:buffer';
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
export async function readBody(c: Context, limit: number): Promise<Buffer> {
  // No helper closure for the 413: a named closure per request costs the bundle's __name (keepNames), about a microsecond.
  const declared = Number(c.req.header('content-length'));
  if (Number.isFinite(declared) && declared > limit) throw ApiError.bodyTooLarge(limit);
  // Under @hono/node-server the Node request is at hand: iterating it directly costs a fraction of
  // the web ReadableStream that wraps it (which showed in the create path's profile).
  const incoming = (c.env as { incoming?: AsyncIterable<Uint8Array> & { readableEnded?: boolean } } | undefined)?.incoming;
  const stream = incoming ?? (c.req.raw.body as unknown as AsyncIterable<Uint8Array> | null);
  if (!stream) return Buffer.alloc(0);
  const body = new BodyBytes(Number.isSafeInteger(declared) && declared > 0 ? declared : undefined);
  try {
    for await (const chunk of stream) {
      if (body.size + chunk.byteLength > limit) {
        // The rest of the body is never read: the connection cannot carry another request, and a client that
        // pooled it (fetch, the SDKs) met a reset on its next one. Closed after the 413 instead.
        c.header('connection', 'close');
        throw ApiError.bodyTooLarge(limit);
      }
      body.add(chunk);
    }
  } catch (err) {
    if (err instanceof ApiError) throw err;
    // The client went away or sent a broken body: its fault, not a server error worth a 500 in the logs.
    throw ApiError.badRequest('We could not read the body of your request: the connection ended before the body was complete.');
  }
  return decodeRequestBody(body.bytes(), c.req.header('content-encoding'), limit);
}

/**
 * A body's chunks gathered into one buffer. With a Content-Length (Node's parser holds the client to it) the buffer
 * is allocated once half of it has arrived, and each chunk from then on is copied into its place as it arrives: a
 * large body's copy is spread over its reads, not one stall at the end. Not at the first chunk: a client that declares
 * 32 MiB and sends a byte would make each of its connections hold 32 MiB; this way a body never holds more than
 * twice what it sent.
 */
class BodyBytes {
  size = 0;
  #sized: Buffer | undefined;
  #chunks: Uint8Array[] = [];
  readonly #declared: number | undefined;

  constructor(declared: number | undefined) {
    this.#declared = declared;
  }

  add(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.size += chunk.byteLength;
    if (this.#sized) {
      if (this.size <= this.#sized.length) {
        this.#sized.set(chunk, this.size - chunk.byteLength);
        this.#chunks.pop();
      }
    } else if (this.#declared !== undefined && this.size * 2 >= this.#declared && this.size <= this.#declared) {
      this.#sized = Buffer.allocUnsafe(this.#declared);
      let at = 0;
      for (const held of this.#chunks) {
        this.#sized.set(held, at);
        at += held.byteLength;
      }
      this.#chunks = [];
    }
  }

  bytes(): Buffer {
    if (!this.#sized) return Buffer.concat(this.#chunks, this.size);
    const copied = this.size - this.#chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
    const head = this.#sized.subarray(0, copied);
    return this.#chunks.length === 0 ? head : Buffer.concat([head, ...this.#chunks], this.size);
  }
}

/** The body as a JSON object, or OpenAI's 400 for anything else. */
export async function readJsonObject(c: Context, limits: BodyLimits): Promise<Record<string, unknown>> {
  return (await readJsonObjectBytes(c, limits)).object;
}

/** UTF-8's byte order mark, which a body may start with: TextDecoder's and JSON.parse's reading leave it out. */
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * The JSON of a body's bytes (any leading byte order mark left out) and its text; undefined when the bytes are not
 * UTF-8. Checked and decoded natively (simdutf): TextDecoder's fatal mode took 60-90 ms of the only thread for a
 * 28 MB image, where ASCII (base64, nearly every body) is copied into a string as it is.
 */
function utf8Json(bytes: Buffer): { json: Buffer; text: string } | undefined {
  if (isAscii(bytes)) return { json: bytes, text: bytes.toString('latin1') };
  if (!isUtf8(bytes)) return undefined;
  const json = bytes.subarray(0, BOM.length).equals(BOM) ? bytes.subarray(BOM.length) : bytes;
  return { json, text: json.toString('utf8') };
}

/**
 * The body as a JSON object and the bytes it was parsed from (what is sent on should be what the client wrote),
 * decoded when sent compressed, a leading byte order mark left out.
 */
export async function readJsonObjectBytes(c: Context, limits: BodyLimits): Promise<{ object: Record<string, unknown>; bytes: Buffer }> {
  const raw = await readBody(c, limits.bodyLimitBytes);
  // Before parsing: JSON.parse spends seconds of the only thread on a body of brackets or of many small values (jsonTextExceeds).
  const exceeded = jsonTextExceeds(raw, { depth: MAX_JSON_DEPTH, values: limits.bodyLimitValues });
  if (exceeded === 'depth') throw tooDeep();
  if (exceeded === 'values') throw tooManyValues(limits.bodyLimitValues);
  const decoded = utf8Json(raw);
  if (decoded === undefined) throw ApiError.invalidJson();
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoded.text);
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
  rememberExactIntegers(parsed, decoded.text);
  return { object: parsed, bytes: decoded.json };
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
