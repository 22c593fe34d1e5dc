import { describe, expect, it } from 'vitest';
import { stringifyLarge } from '../src/stringify-large.ts';

/**
 * stored texts are written by stringifyLarge: whatever a value holds, its text must be JSON.stringify's, character for
 * character (the stored bytes, and every reader's, depend on it).
 */
describe('stringifyLarge', () => {
  const long = (fill: string) => fill.repeat(Math.ceil((70 * 1024) / fill.length));
  const MARK = '\u0000stored-completions-long-string:';
  const values: [string, unknown][] = [
    ['a long base64 image in a message part', { role: 'user', content_parts: [{ type: 'text', text: 'what?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${long('iVBORw0KGgo+/=')}` } }] }],
    ['two long strings and short ones between', { a: long('x'), b: [1, 'short', null, true, 2.5e-7], c: long('yé€😀') }],
    ['long strings that need escapes', [long('a"b'), long('c\\d'), long('e\nf'), long('\u0000'), long('\u007f\u2028\u2029')]],
    ['a long string with a lone surrogate, and with a pair', [long('a\ud800b'), long('\udc00'), long('😀')]],
    ['a long key', { [long('k')]: long('v') }],
    ['an own __proto__ field', JSON.parse(`{"__proto__":{"x":"${long('p')}"},"y":1}`)],
    ['the mark itself, in a value of its own', { url: long('z'), trap: `${MARK}0` }],
    ['the mark before the long string', [`${MARK}0`, long('z')]],
    ['the mark after a quote inside a string', [`"${MARK}0`, long('z'), `${MARK}1"`]],
    ['a long string that is the mark', [`${MARK}${long('0')}`, long('z')]],
    ['nothing long', { role: 'user', content: 'hi', n: [1, 2, { deep: null }] }],
    ['a bare long string', long('q')],
    ['numbers past 2^53', { seed: 9007199254740993, url: long('n') }],
  ];

  it.each(values)('writes %s as JSON.stringify does', (_name, value) => {
    expect(stringifyLarge(value) === JSON.stringify(value)).toBe(true);
  });

});
