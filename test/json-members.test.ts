import { describe, expect, it } from 'vitest';
import { jsonMembers } from '../src/json-members.ts';

describe('the members of a JSON object text', () => {
  it('are each key with its text as written, whatever the spacing, nesting, escapes and duplicates', () => {
    const text = ' {\n "a" : [1, {"x":"}]\\"{["}, [] ] ,"b":1e400,\t"c\\u0022":"s\\\\","d":{},"a":null , "e":true}\n';
    expect(jsonMembers(text)).toEqual([
      { key: 'a', text: '"a" : [1, {"x":"}]\\"{["}, [] ]' },
      { key: 'b', text: '"b":1e400' },
      { key: 'c"', text: '"c\\u0022":"s\\\\"' },
      { key: 'd', text: '"d":{}' },
      { key: 'a', text: '"a":null' },
      { key: 'e', text: '"e":true' },
    ]);
  });

  it('are none for an empty object, and a value of megabytes of string is skipped whole', () => {
    expect(jsonMembers('{ }')).toEqual([]);
    const big = `"data:image/png;base64,${'QUJD\\"]}'.repeat(200_000)}"`;
    expect(jsonMembers(`{"url":${big},"n":-0.5E+3}`).map((m) => m.text)).toEqual([`"url":${big}`, '"n":-0.5E+3']);
  });
});
