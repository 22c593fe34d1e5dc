import { describe, expect, it } from 'vitest';
import { findUnsafeIntegers, hasAmbiguousIntegers, mergeExactIntegers, withExactIntegers } from '../src/exact-integers.ts';

/** Parses and writes back as the service does, with the integers put back. */
const roundTrip = (text: string) => withExactIntegers(JSON.stringify(JSON.parse(text)), findUnsafeIntegers(text));

describe('integers past 2^53', () => {
  it('come back as written, signed, beside safe numbers, floats and the keywords', () => {
    const text = '{"seed":9223372036854775807,"min":-9223372036854775808,"u":18446744073709551615,"safe":9007199254740991,"f":0.5,"e":1e3,"t":true,"n":null}';
    expect(roundTrip(text)).toBe('{"seed":9223372036854775807,"min":-9223372036854775808,"u":18446744073709551615,"safe":9007199254740991,"f":0.5,"e":1000,"t":true,"n":null}');
  });

  it('come back when their double is written with an exponent, inside arrays and nested objects', () => {
    const text = '{"a":[1,100000000000000000000000001,{"b":[12345678901234567891]}]}';
    expect(JSON.stringify(JSON.parse(text))).toBe('{"a":[1,1e+26,{"b":[12345678901234567000]}]}');
    expect(roundTrip(text)).toBe(text);
  });

  it('are looked for outside strings only: digits in a string, after escaped quotes, are text', () => {
    expect(findUnsafeIntegers('{"a":"12345678901234567890","b":"x\\"99999999999999999999\\"","c":1}')).toBeUndefined();
    // A string that reads as the rounded text is left alone when the body has that integer elsewhere.
    const text = '{"a":"12345678901234567000","b":12345678901234567890}';
    expect(roundTrip(text)).toBe(text);
  });

  it('are found after megabytes of strings and escapes (an image in a content part), without recursion', () => {
    const text = `{"url":"data:image/png;base64,${'QUJD\\"\\\\'.repeat(1_000_000)}1234567890123456","seed":9223372036854775807}`;
    expect([...findUnsafeIntegers(text)!]).toEqual([['9223372036854776000', '9223372036854775807']]);
  });

  it('are none in a body without sixteen digits in a row', () => {
    expect(findUnsafeIntegers('{"model":"gpt-4o","seed":42}')).toBeUndefined();
    // 2^53 itself is held exactly: found (to tell it from 2^53 + 1 in another text), with nothing to put back.
    expect([...findUnsafeIntegers('{"seed":9007199254740992}')!]).toEqual([['9007199254740992', '9007199254740992']]);
    expect(roundTrip('{"seed":9007199254740992}')).toBe('{"seed":9007199254740992}');
    expect(withExactIntegers('{"seed":42}', undefined)).toBe('{"seed":42}');
  });

  it('say when two different integers share one double, whichever is written as the double\'s own text, and across merged texts', () => {
    const text = (a: string, b: string) => `{"data":[{"id":"a","seed":${a}},{"id":"b","seed":${b}}]}`;
    for (const [a, b] of [
      ['9223372036854775807', '9223372036854775806'],
      ['9007199254740993', '9007199254740992'],
      ['9007199254740992', '9007199254740993'],
    ]) {
      expect(hasAmbiguousIntegers(findUnsafeIntegers(text(a!, b!))), `${a} ${b}`).toBe(true);
    }
    expect(hasAmbiguousIntegers(findUnsafeIntegers(text('9223372036854775807', '9223372036854775807')))).toBe(false);
    const one = findUnsafeIntegers('{"seed":9007199254740993}');
    const other = findUnsafeIntegers('{"seed":9007199254740992,"n":12345678901234567890}');
    expect(hasAmbiguousIntegers(one) || hasAmbiguousIntegers(other)).toBe(false);
    expect(hasAmbiguousIntegers(mergeExactIntegers(one, other))).toBe(true);
    expect(hasAmbiguousIntegers(mergeExactIntegers(one, findUnsafeIntegers('{"n":12345678901234567890}')))).toBe(false);
    // A text whose only big integer is written as its double's own text (a message holding 2^53) still shows the clash.
    const exact = findUnsafeIntegers('{"role":"user","n":9007199254740992}');
    expect(hasAmbiguousIntegers(mergeExactIntegers(one, exact))).toBe(true);
    expect(hasAmbiguousIntegers(mergeExactIntegers(exact, one))).toBe(true);
  });
});

describe('a body of long runs of digits', () => {
  /** CPU time of `work`, in ms: other processes on the machine do not count, as they would in wall time. */
  const cpuMs = (work: () => unknown) => {
    const start = process.cpuUsage();
    work();
    const { user, system } = process.cpuUsage(start);
    return (user + system) / 1000;
  };

  it('is looked over in about the time JSON.parse takes on it, not three to four times that (one 30 MB integer, 100,000 of 300 digits)', () => {
    for (const text of [`{"seed":${'1'.repeat(30_000_000)}}`, `{"a":[${Array(100_000).fill('9'.repeat(300)).join(',')}]}`]) {
      const parse = cpuMs(() => JSON.parse(text));
      let found: ReturnType<typeof findUnsafeIntegers>;
      const looked = cpuMs(() => (found = findUnsafeIntegers(text)));
      expect(found!.size).toBe(1);
      // A regular expression tested on each digit took 3-4 times JSON.parse's time (0.45 s for 30 MB alone, 2.5 s of a
      // server's thread with the heap full), the character codes compared about as long as the parse.
      expect(looked, `${looked.toFixed(0)} ms to look over, ${parse.toFixed(0)} ms to parse`).toBeLessThan(2 * parse);
    }
  });
});
