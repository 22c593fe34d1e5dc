import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate, inflateRaw } from 'node:zlib';
import { ApiError } from './errors.ts';

/**
 * A request body sent compressed (`Content-Encoding`, as OpenAI's own API takes it and some clients send
 * it) is decoded before it is parsed: the service reads and rewrites a create's JSON (store and metadata
 * stay here), so what goes on to the provider is the decoded text, sent without the client's encoding.
 * Decoding is bounded by the body limit, counted on the decoded bytes: a small bomb gets the 413 a large
 * body does. One coding at most (besides `identity`).
 */

const inflateAsync = promisify(inflate);
const inflateRawAsync = promisify(inflateRaw);

/** RFC 1950's two header bytes: deflate as the method, and a check that makes them a multiple of 31. */
function hasZlibHeader(body: Uint8Array): boolean {
  return body.length >= 2 && (body[0]! & 0x0f) === 8 && ((body[0]! << 8) | body[1]!) % 31 === 0;
}

const decoders: Record<string, (body: Uint8Array, options: { maxOutputLength: number }) => Promise<Buffer>> = {
  gzip: promisify(gunzip),
  'x-gzip': promisify(gunzip),
  br: promisify(brotliDecompress),
  // `deflate` is zlib-wrapped by the standard; some clients send it raw. A zlib header tells them apart.
  deflate: (body, options) => (hasZlibHeader(body) ? inflateAsync(body, options) : inflateRawAsync(body, options)),
};

/** The codings a header lists; `identity` taken out. */
function codingsOf(header: string): string[] {
  return header
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'identity');
}

/** OpenAI's error shape for a body the service will not decode. */
function unsupportedEncoding(message: string): ApiError {
  return new ApiError(415, message, 'invalid_request_error', null, 'unsupported_content_encoding');
}

/** The body with its coding undone; 415 for one the service cannot undo (or more than one), 400 for a body that is not in it. */
export async function decodeRequestBody(body: Buffer, contentEncoding: string | undefined, limit: number): Promise<Buffer> {
  if (contentEncoding === undefined) return body;
  const codings = codingsOf(contentEncoding);
  // Each coding is decoded up to the body limit: a header listing thousands (16 KB of "gzip,") cost minutes of CPU
  // for one request. Nobody compresses a request twice.
  if (codings.length > 1) {
    throw unsupportedEncoding(`Unsupported Content-Encoding '${codings.join(', ')}': compress the body once, with gzip, deflate or br.`);
  }
  const [coding] = codings;
  if (coding === undefined) return body;
  if (!Object.hasOwn(decoders, coding)) {
    throw unsupportedEncoding(`Unsupported Content-Encoding '${coding}': send the body uncompressed, or compressed with gzip, deflate or br.`);
  }
  try {
    return await decoders[coding]!(body, { maxOutputLength: limit });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw ApiError.bodyTooLarge(limit);
    throw ApiError.badRequest(`We could not decode the body of your request: it is not valid ${coding} data, as its Content-Encoding says.`);
  }
}
