import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { promisify } from 'node:util';
import {
  brotliDecompress,
  constants as zlib,
  createBrotliDecompress,
  createGunzip,
  createInflate,
  createInflateRaw,
  gunzip,
  inflate,
  inflateRaw,
} from 'node:zlib';
import { ApiError } from '../errors.ts';
import { answerTooLarge } from './body-reading.ts';

/**
 * A provider's Content-Encoding, undone: the proxy asks for no encoding, but a provider may compress anyway, and the
 * client gets the answer without the header. Whole answers at once, streamed ones as they arrive.
 */

/**
 * More content codings than this are refused, as fetch refuses them: each costs a decoder. Not to be retried: a provider
 * (or a proxy before it) that stacks them does so on every answer, each one paid for.
 */
const MAX_CODINGS = 5;

/** The Node streams that undo a streamed answer's Content-Encoding, last applied first; none for a coding we do not know. */
export function streamDecoders(body: Readable, header: string | string[] | undefined): Transform[] {
  const codings = codingsToUndo(header, STREAM_DECODERS);
  if (codings === undefined) return [];
  if (codings.length > MAX_CODINGS) {
    body.destroy();
    throw new ApiError(502, `The upstream provider's answer has more than ${MAX_CODINGS} content codings; it was not read.`, 'server_error').notRetryable();
  }
  return codings.map((coding) => STREAM_DECODERS[coding]!());
}

/** Lenient as fetch (and curl) are: a compressed answer cut short yields what it holds rather than an error. */
const ZLIB_LENIENT = { flush: zlib.Z_SYNC_FLUSH, finishFlush: zlib.Z_SYNC_FLUSH };
const BROTLI_LENIENT = { flush: zlib.BROTLI_OPERATION_FLUSH, finishFlush: zlib.BROTLI_OPERATION_FLUSH };

/** The content codings `DECODERS` undoes for whole answers, undone as a streamed answer arrives. */
const STREAM_DECODERS: Record<string, () => Transform> = {
  gzip: () => createGunzip(ZLIB_LENIENT),
  'x-gzip': () => createGunzip(ZLIB_LENIENT),
  br: () => createBrotliDecompress(BROTLI_LENIENT),
  deflate: () => new InflateEither(),
};

/** "deflate" zlib-wrapped or bare, told apart by its first byte (see `isZlibWrapped`), which only the first chunk shows. */
class InflateEither extends Transform {
  #inflater: Transform | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.#inflater === undefined) {
      if (chunk.length === 0) return done();
      this.#inflater = (isZlibWrapped(chunk) ? createInflate : createInflateRaw)(ZLIB_LENIENT);
      this.#inflater.on('data', (out: Buffer) => this.push(out));
      this.#inflater.on('error', (err) => this.destroy(err));
    }
    this.#inflater.write(chunk, () => done());
  }

  override _flush(done: TransformCallback): void {
    if (this.#inflater === undefined) return done();
    // Done only once the inflater has handed over its last bytes.
    this.#inflater.once('end', () => done());
    this.#inflater.end();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.#inflater?.destroy();
    done(err);
  }
}

type Decoder = (bytes: Buffer, options: { maxOutputLength: number }) => Promise<Buffer>;

const inflateZlib = promisify(inflate) as Decoder;
const inflateBare = promisify(inflateRaw) as Decoder;

/** The content codings fetch decodes, decoded here too: an answer's bytes as undici hands them over are still encoded. */
const DECODERS: Record<string, Decoder> = {
  gzip: promisify(gunzip) as Decoder,
  'x-gzip': promisify(gunzip) as Decoder,
  br: promisify(brotliDecompress) as Decoder,
  deflate: (bytes, options) => (isZlibWrapped(bytes) ? inflateZlib : inflateBare)(bytes, options),
};

/** "deflate" is meant to be zlib-wrapped, but some servers send it bare: told apart by the zlib header, as fetch does. */
function isZlibWrapped(first: Buffer): boolean {
  return (first[0]! & 0x0f) === 0x08;
}

/**
 * An answer's content codings in the order to undo them (codings are listed in the order they were
 * applied: undone last first), or undefined when one of them has no decoder in `known`: such an
 * answer is left as it came, as fetch leaves it.
 */
function codingsToUndo(header: string | string[] | undefined, known: Record<string, unknown>): string[] | undefined {
  if (header === undefined) return [];
  const codings = (Array.isArray(header) ? header.join(',') : header)
    .toLowerCase()
    .split(',')
    .map((coding) => coding.trim())
    .filter((coding) => coding !== '' && coding !== 'identity');
  // Own keys only: `__proto__` (an object's, not a coding) was looked up as a decoder, and the answer became a 502.
  if (codings.some((coding) => !Object.hasOwn(known, coding))) return undefined;
  return codings.reverse();
}

/**
 * A whole answer's body with its Content-Encoding undone. The proxy asks for no encoding, but a
 * provider may compress anyway (HTTP allows it when the request names none); the client gets the
 * answer without the header, so it must get the decoded bytes. The decoded size is held to `limit`
 * too. A coding we do not know leaves the body as it came, as fetch does.
 */
export async function decodeContent(bytes: Buffer, header: string | string[] | undefined, limit: number): Promise<Buffer> {
  if (header === undefined || bytes.length === 0) return bytes;
  const codings = codingsToUndo(header, DECODERS);
  if (codings === undefined) return bytes;
  for (const coding of codings) {
    try {
      bytes = await DECODERS[coding]!(bytes, { maxOutputLength: limit });
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') throw answerTooLarge(limit);
      throw new ApiError(502, `The upstream provider's answer could not be decoded (Content-Encoding: ${coding}).`, 'server_error');
    }
  }
  return bytes;
}
