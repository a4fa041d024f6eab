import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { strictPercentDecode, strictPercentEncode } from './percent-encoding.js';

/** No unpaired surrogate (such text has no UTF-8 form to encode). */
const isWellFormed = (text: string) => !/\p{Cs}/u.test(text);

describe('strictPercentEncode', () => {
  it('keeps unreserved characters and encodes every other byte, % included', () => {
    expect(strictPercentEncode('A-1001_x.y~z')).toBe('A-1001_x.y~z');
    expect(strictPercentEncode(' x ')).toBe('%20x%20');
    expect(strictPercentEncode('%20x%20')).toBe('%2520x%2520');
    expect(strictPercentEncode('a:b/c')).toBe('a%3Ab%2Fc');
    expect(strictPercentEncode("!'()*")).toBe('%21%27%28%29%2A');
    expect(strictPercentEncode('订单')).toBe('%E8%AE%A2%E5%8D%95');
    expect(strictPercentEncode('😀')).toBe('%F0%9F%98%80');
  });

  it('is one-to-one: decoding gives the id back, so two ids never share an encoding', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 128 }), (id) => {
        const encoded = strictPercentEncode(id);
        expect(encoded).toMatch(/^[A-Za-z0-9\-_.~%]+$/);
        expect(strictPercentDecode(encoded)).toBe(id);
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        fc.pre(a !== b && isWellFormed(a) && isWellFormed(b));
        expect(strictPercentEncode(a)).not.toBe(strictPercentEncode(b));
      }),
      { numRuns: 500 },
    );
  });
});
