import type { Readable } from 'node:stream';

/**
 * The lines of an import file as UTF-8 text, each checked on its own. A
 * decoder that is not strict (readline's) turns every byte that is not UTF-8
 * (a file saved as Latin-1 or Windows-1252, `café` as one byte for `é`) into
 * U+FFFD, so such a line was stored with its text silently altered; here it is
 * a bad line with its number, like a line that is not JSON.
 */

/** A line's text, or why it is not text; `utf16` when the whole file is UTF-16, so no line of it can be read. */
export type InputLine = { text: string } | { notUtf8: string; utf16: boolean };

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
    const kind = utf16Kind(bytes);
    return {
      utf16: kind !== undefined,
      notUtf8: kind
        ? `the file is ${kind} text, not UTF-8 (save it as UTF-8, e.g. with PowerShell's Out-File -Encoding utf8)`
        : 'not UTF-8 text (a file saved in another encoding, such as Latin-1 or Windows-1252; convert it to UTF-8)',
    };
  }
}

/** Splits `input` on `\n` (a `\r` before it dropped), decoding each line on its own; a last line without `\n` counts. */
export async function* inputLines(input: Readable): AsyncGenerator<InputLine> {
  let pending: Buffer[] = [];
  for await (const chunk of input) {
    let bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
    for (let at = bytes.indexOf(NEWLINE); at !== -1; at = bytes.indexOf(NEWLINE)) {
      pending.push(bytes.subarray(0, at));
      yield decodeLine(pending.length === 1 ? pending[0]! : Buffer.concat(pending));
      pending = [];
      bytes = bytes.subarray(at + 1);
    }
    if (bytes.length > 0) pending.push(bytes);
  }
  if (pending.length > 0) yield decodeLine(Buffer.concat(pending));
}
