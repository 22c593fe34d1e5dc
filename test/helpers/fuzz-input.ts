import fc from 'fast-check';
import { expect } from 'vitest';
import { assertMatchesSchema } from './openai-schema.ts';

/** The fuzz files' shared input: hostile text, and the check every answer must pass. */

/** Fragments that have broken parsers, routers and SQL before. */
export const NASTY = [
  '[', ']', '[]', '%', '%2F', '%2f', '%25', '%00', '%ED%A0%80', '%E0%A4%A', '%%', '+', '&', '=', '#', '?', '/', '..', '.',
  "'", '"', '\\', '\u0000', '\n', '\t', ' ', '\ud800', '\udfff', '🎉', 'ü', '\u202e', '__proto__', 'constructor',
  'metadata[', 'metadata', 'limit', 'after', "'; DROP TABLE completions; --", '%_', 'NULL',
];

export const nastyString = fc
  .array(fc.oneof(fc.constantFrom(...NASTY), fc.string({ maxLength: 4 }), fc.string({ unit: 'binary', maxLength: 3 })), { maxLength: 6 })
  .map((parts) => parts.join(''));

/** encodeURI(Component) throws on a lone surrogate; such text then goes as it is, and the URL parser makes it U+FFFD. */
export function safely(encoder: (s: string) => string): (s: string) => string {
  return (s) => {
    try {
      return encoder(s);
    } catch {
      return s;
    }
  };
}

/** Never a 5xx; an error is OpenAI's exact four-field shape. Parses a success as JSON unless `json` is false. */
export async function readChecked(res: Response, { json = true } = {}): Promise<{ status: number; body: any; text: string }> {
  const text = await res.text();
  expect(res.status, text).toBeLessThan(500);
  if (res.status >= 400) {
    const body = JSON.parse(text);
    assertMatchesSchema('ErrorResponse', body);
    expect(Object.keys(body)).toEqual(['error']);
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    return { status: res.status, body, text };
  }
  return { status: res.status, body: json && text !== '' ? JSON.parse(text) : undefined, text };
}
