import { describe, expect, it } from 'vitest';
import { AnswerTimes } from './answer-times.js';

describe('AnswerTimes', () => {
  it('gives the median of the last 64 answers of an API', () => {
    const times = new AnswerTimes();
    expect(times.medianMs('a')).toBeNull();
    for (const ms of [10, 30, 20]) times.record('a', ms);
    expect(times.medianMs('a')).toBe(20);
    times.record('a', 40);
    expect(times.medianMs('a')).toBe(25);
    for (let i = 0; i < 64; i++) times.record('a', 100);
    expect(times.medianMs('a')).toBe(100); // the old ones have gone
    times.record('a', 7);
    expect(times.lastMs('a')).toBe(7);
    expect(times.lastMs('b')).toBeNull();
  });

  it("falls back to every API's answers, and ignores what is not a time", () => {
    const times = new AnswerTimes();
    times.record('a', 10);
    times.record('b', 30);
    times.record('b', Number.NaN);
    times.record('b', -1);
    expect(times.medianMs('b')).toBe(30);
    expect(times.medianMs('c')).toBe(20);
  });
});
