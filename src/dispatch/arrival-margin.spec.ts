import { describe, expect, it } from 'vitest';
import { ArrivalMargin, DISPATCH_MARGIN } from './arrival-margin.js';

const OPTIONS = { allowanceMs: 5, minMs: 10, maxMs: 1_000, defaultMs: 100 };

function withSamples(samples: number[], options = OPTIONS): ArrivalMargin {
  const margin = new ArrivalMargin(options);
  for (const s of samples) margin.record(s);
  return margin;
}

describe('ArrivalMargin', () => {
  it('keeps the default until 32 calls are measured', () => {
    expect(new ArrivalMargin(OPTIONS).marginMs()).toBe(100);
    expect(withSamples(Array.from({ length: 31 }, () => 500)).marginMs()).toBe(100);
  });

  it('follows the spread of the delays, not their size: a slow but steady path needs little margin', () => {
    // 400..420 ms, evenly: spread 20 ms (+5 ms allowance).
    expect(withSamples(Array.from({ length: 256 }, (_, i) => 400 + (i % 21))).marginMs()).toBe(25);
  });

  it('grows with jitter, to the largest spread seen: the outliers are the calls that bunch up', () => {
    const samples = Array.from({ length: 256 }, (_, i) => 30 + (i % 41)); // 30..70 ms
    expect(withSamples(samples).marginMs()).toBe(45);
    samples[7] = 230; // one call in 256 stuck behind a GC pause
    expect(withSamples(samples).marginMs()).toBe(205);
  });

  it('stays within its bounds', () => {
    expect(withSamples(Array.from({ length: 64 }, () => 12)).marginMs()).toBe(10);
    expect(withSamples(Array.from({ length: 64 }, (_, i) => (i % 2 ? 10 : 10_000))).marginMs()).toBe(1_000);
    expect(
      withSamples(
        Array.from({ length: 64 }, (_, i) => (i % 2 ? 10 : 10_000)),
        { ...OPTIONS, maxMs: 250 },
      ).marginMs(),
    ).toBe(250);
  });

  it('forgets old samples: the window is the last 256 calls', () => {
    const margin = withSamples(Array.from({ length: 256 }, (_, i) => (i % 2 ? 10 : 500)));
    expect(margin.marginMs()).toBe(495);
    for (let i = 0; i < 256; i++) margin.record(100);
    expect(margin.marginMs()).toBe(10);
  });

  it('ignores values that are not a duration', () => {
    const margin = withSamples(Array.from({ length: 40 }, () => 50));
    for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY]) margin.record(bad);
    expect(margin.marginMs()).toBe(10);
  });

  it('for dispatch: 100 ms at first and at least, wider with wider answers, 250 ms at most', () => {
    expect(new ArrivalMargin(DISPATCH_MARGIN).marginMs()).toBe(100);
    expect(
      withSamples(
        Array.from({ length: 64 }, () => 3),
        DISPATCH_MARGIN,
      ).marginMs(),
    ).toBe(100);
    const samples = Array.from({ length: 64 }, (_, i) => 50 + (i % 151)); // spread 63 ms of 64 samples
    expect(withSamples(samples, DISPATCH_MARGIN).marginMs()).toBe(100);
    samples[3] = 200; // spread 150 ms
    expect(withSamples(samples, DISPATCH_MARGIN).marginMs()).toBe(155);
    samples[4] = 1_500;
    expect(withSamples(samples, DISPATCH_MARGIN).marginMs()).toBe(250);
  });
});
