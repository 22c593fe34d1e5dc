import { constants } from 'node:buffer';
import { count } from '../counts.ts';

/**
 * The lines of an import file as UTF-8 text, each checked on its own. A
 * decoder that is not strict (readline's) turns every byte that is not UTF-8
 * (a file saved as Latin-1 or Windows-1252, `café` as one byte for `é`) into
 * U+FFFD, so such a line was stored with its text silently altered; here it is
 * a bad line with its number, like a line that is not JSON.
 */

/**
 * A line's text, or why it cannot be read; `wholeFile` when no line of the file can be (it is UTF-16). `unended`: the
 * file's last line, without a new line after it (another tool's, or a file cut off: an export killed, a download broken).
 */
export type InputLine = { text: string; unended?: true } | { problem: string; wholeFile: boolean };

/**
 * The longest line read: the longest string JavaScript can hold (about 512 MiB), so any line within
 * it decodes. Of a longer line, what was held while it might still end is dropped at the limit and the
 * rest passed over up to its end, which kept a 600 MB line from taking 1.2 GB of memory only to be
 * reported as not UTF-8 when it failed to decode.
 */
export const MAX_LINE_BYTES = constants.MAX_STRING_LENGTH;

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/** What a file that opens with a UTF-16 byte order mark is (PowerShell 5's `>` writes UTF-16LE), to say so. */
export function utf16Kind(bytes: Buffer): string | undefined {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return 'UTF-16LE';
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return 'UTF-16BE';
  return undefined;
}

// fatal: a byte sequence that is not UTF-8 throws instead of becoming U+FFFD; ignoreBOM: a mark stays for the caller to strip.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeLine(bytes: Buffer): InputLine {
  const end = bytes.at(-1) === CARRIAGE_RETURN ? bytes.length - 1 : bytes.length;
  try {
    return { text: decoder.decode(bytes.subarray(0, end)) };
  } catch {
    // An export kept compressed (`export | gzip`) and given as it is: a Latin-1 file it is not.
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
      return { wholeFile: true, problem: 'the file is gzip-compressed, not text (decompress it first, e.g. gunzip -c FILE | stored-completions import - ...)' };
    }
    const kind = utf16Kind(bytes);
    return {
      wholeFile: kind !== undefined,
      problem: kind
        ? `the file is ${kind} text, not UTF-8 (save it as UTF-8, e.g. with PowerShell's Out-File -Encoding utf8)`
        : 'not UTF-8 text (a file saved in another encoding, such as Latin-1 or Windows-1252; convert it to UTF-8)',
    };
  }
}

/**
 * Splits `input` on `\n` (a `\r` before it dropped), decoding each line on its own; a last line without
 * `\n` counts. A line over `maxLineBytes` is a problem line, whatever it holds.
 */
export async function* inputLines(input: AsyncIterable<Buffer | string>, maxLineBytes = MAX_LINE_BYTES): AsyncGenerator<InputLine> {
  const tooLong: InputLine = {
    problem: `longer than ${count(maxLineBytes)} bytes, the longest line that can be read (about 512 MiB)`,
    wholeFile: false,
  };
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  // Past the limit: the rest of the line is passed over, not kept.
  let overLimit = false;
  for await (const chunk of input) {
    let bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
    for (let at = bytes.indexOf(NEWLINE); at !== -1; at = bytes.indexOf(NEWLINE)) {
      if (overLimit || pendingBytes + at > maxLineBytes) yield tooLong;
      else {
        pending.push(bytes.subarray(0, at));
        yield decodeLine(pending.length === 1 ? pending[0]! : Buffer.concat(pending));
      }
      pending = [];
      pendingBytes = 0;
      overLimit = false;
      bytes = bytes.subarray(at + 1);
    }
    if (bytes.length === 0 || overLimit) continue;
    pendingBytes += bytes.length;
    if (pendingBytes > maxLineBytes) {
      overLimit = true;
      pending = [];
    } else pending.push(bytes);
  }
  if (overLimit) yield tooLong;
  else if (pending.length > 0) {
    const last = decodeLine(Buffer.concat(pending));
    yield 'text' in last ? { ...last, unended: true } : last;
  }
}
