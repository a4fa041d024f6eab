import { describe, expect, it } from 'vitest';
import { ArrivalMargin, DEFAULT_MARGIN_MS, MAX_MARGIN_MS, MIN_MARGIN_MS } from './arrival-margin.js';

function withSamples(samples: number[]): ArrivalMargin {
  const margin = new ArrivalMargin();
  for (const s of samples) margin.record(s);
  return margin;
}

describe('ArrivalMargin', () => {
  it('keeps the default until 32 calls are measured', () => {
    expect(new ArrivalMargin().marginMs()).toBe(DEFAULT_MARGIN_MS);
    expect(withSamples(Array.from({ length: 31 }, () => 500)).marginMs()).toBe(DEFAULT_MARGIN_MS);
  });

  it('follows the spread of the delays, not their size: a slow but steady supplier needs little margin', () => {
    // 400..420 ms, evenly: spread 20 ms (+5 ms allowance).
    const steady = withSamples(Array.from({ length: 256 }, (_, i) => 400 + (i % 21)));
    expect(steady.marginMs()).toBe(25);
  });

  it('grows with jitter, to the largest spread seen: the outliers are the calls that bunch up', () => {
    const samples = Array.from({ length: 256 }, (_, i) => 30 + (i % 41)); // 30..70 ms
    expect(withSamples(samples).marginMs()).toBe(45);
    samples[7] = 230; // one call in 256 stuck behind a GC pause
    expect(withSamples(samples).marginMs()).toBe(205);
  });

  it('stays within its bounds', () => {
    expect(withSamples(Array.from({ length: 64 }, () => 12)).marginMs()).toBe(MIN_MARGIN_MS);
    expect(withSamples(Array.from({ length: 64 }, (_, i) => (i % 2 ? 10 : 10_000))).marginMs()).toBe(MAX_MARGIN_MS);
  });

  it('forgets old samples: the window is the last 256 calls', () => {
    const margin = withSamples(Array.from({ length: 256 }, (_, i) => (i % 2 ? 10 : 500)));
    expect(margin.marginMs()).toBe(495);
    for (let i = 0; i < 256; i++) margin.record(100);
    expect(margin.marginMs()).toBe(MIN_MARGIN_MS);
  });

  it('ignores values that are not a duration', () => {
    const margin = withSamples(Array.from({ length: 40 }, () => 50));
    for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY]) margin.record(bad);
    expect(margin.marginMs()).toBe(MIN_MARGIN_MS);
  });
});
