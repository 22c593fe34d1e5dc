import { describe, expect, it } from 'vitest';
import { jsonMembers } from '../src/json-members.ts';

/** Each member's key and its bytes as text. */
const membersOf = (text: string) => {
  const bytes = Buffer.from(text);
  return jsonMembers(bytes).map(({ key, start, end }) => ({ key, text: bytes.subarray(start, end).toString() }));
};

describe('the members of a JSON object text', () => {
  it('are each key with its text as written, whatever the spacing, nesting, escapes and duplicates', () => {
    const text = ' {\n "a" : [1, {"x":"}]\\"{["}, [] ] ,"b":1e400,\t"c\\u0022":"s\\\\","d":{},"a":null , "e":true}\n';
    expect(membersOf(text)).toEqual([
      { key: 'a', text: '"a" : [1, {"x":"}]\\"{["}, [] ]' },
      { key: 'b', text: '"b":1e400' },
      { key: 'c"', text: '"c\\u0022":"s\\\\"' },
      { key: 'd', text: '"d":{}' },
      { key: 'a', text: '"a":null' },
      { key: 'e', text: '"e":true' },
    ]);
  });

  it('are found in bytes past multi-byte characters, their offsets those of the bytes', () => {
    const text = '{"é😀":"ü\\"😀","n":[1,"€"]}';
    expect(membersOf(text)).toEqual([
      { key: 'é😀', text: '"é😀":"ü\\"😀"' },
      { key: 'n', text: '"n":[1,"€"]' },
    ]);
  });

  it('are none for an empty object, and a value of megabytes of string is skipped whole', () => {
    expect(membersOf('{ }')).toEqual([]);
    const big = `"data:image/png;base64,${'QUJD\\"]}'.repeat(200_000)}"`;
    expect(membersOf(`{"url":${big},"n":-0.5E+3}`).map((m) => m.text)).toEqual([`"url":${big}`, '"n":-0.5E+3']);
  });
});
