import { stringEnd } from './exact-integers.ts';

/**
 * The top-level members of a JSON object's text, each as written: its key and the exact text
 * `"key": value` (spacing, key order, number spelling and duplicate keys as the client sent them).
 * What a body sent on with a few members taken out or replaced is made of, so the rest reaches the
 * provider as the client wrote it: written again from the parsed object, a key that reads as an
 * integer (`"2024"` in a JSON schema's properties) moved before the others, which changes the order
 * in which a model answers a strict schema, and a number past a double (`1e400`) became `null`.
 */
export interface JsonMember {
  key: string;
  text: string;
}

function isJsonWhitespace(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r';
}

function skipWhitespace(text: string, i: number): number {
  while (isJsonWhitespace(text[i])) i++;
  return i;
}

/** Where the JSON value starting at `start` ends; strings are skipped with indexOf (megabytes of base64 images). */
function valueEnd(text: string, start: number): number {
  const first = text[start];
  if (first === '"') return stringEnd(text, start);
  let i = start;
  if (first !== '{' && first !== '[') {
    while (i < text.length && text[i] !== ',' && text[i] !== '}' && text[i] !== ']' && !isJsonWhitespace(text[i])) i++;
    return i;
  }
  let depth = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '"') {
      i = stringEnd(text, i);
      continue;
    }
    if (ch === '{' || ch === '[') depth++;
    else if ((ch === '}' || ch === ']') && --depth === 0) return i + 1;
    i++;
  }
  return i;
}

/** The members of `text`, which must be a valid JSON object (as `JSON.parse` accepted it). */
export function jsonMembers(text: string): JsonMember[] {
  const members: JsonMember[] = [];
  let i = skipWhitespace(text, 0) + 1;
  for (;;) {
    i = skipWhitespace(text, i);
    if (text[i] !== '"') return members;
    const keyEnd = stringEnd(text, i);
    const valueStart = skipWhitespace(text, skipWhitespace(text, keyEnd) + 1);
    const end = valueEnd(text, valueStart);
    members.push({ key: JSON.parse(text.slice(i, keyEnd)) as string, text: text.slice(i, end) });
    i = skipWhitespace(text, end);
    if (text[i] === ',') i++;
  }
}
