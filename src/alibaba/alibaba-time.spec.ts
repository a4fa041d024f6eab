import { describe, expect, it } from 'vitest';
import { formatAlibabaTime, parseAlibabaTime } from './alibaba-time.js';

describe('1688 times', () => {
  it('writes China time with milliseconds and the offset', () => {
    expect(formatAlibabaTime(Date.parse('2026-11-22T16:05:09.007Z'))).toBe('20261123000509007+0800');
  });

  it('reads what it writes, and other offsets, and refuses what is not a time', () => {
    const at = Date.parse('2026-02-28T23:59:59.999Z');
    expect(parseAlibabaTime(formatAlibabaTime(at))).toBe(at);
    expect(parseAlibabaTime('20260301075959999+0800')).toBe(at);
    expect(parseAlibabaTime('20260228235959999+0000')).toBe(at);
    expect(parseAlibabaTime('20260301075959')).toBe(Date.parse('2026-02-28T23:59:59.000Z'));
    for (const bad of ['', '2026-03-01', '20260230000000000+0800', '20261301000000000+0800', 12, null])
      expect(parseAlibabaTime(bad)).toBeNull();
  });
});
