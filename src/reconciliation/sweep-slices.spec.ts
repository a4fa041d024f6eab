import { LosslessNumber } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { edgePages, inLanes, isLastPage, lanesFor, slicesFromEdges, totalRecordOf, type Slice } from './sweep-slices.js';

const inSlice = (slice: Slice, createdAt: number) =>
  (slice.createStart === undefined || createdAt >= slice.createStart) && (slice.createEnd === undefined || createdAt <= slice.createEnd);

describe('lanesFor: calls in flight to keep the limit busy', () => {
  it('is limit × answer time, plus one, within what is useful and the bound', () => {
    expect(lanesFor(20, 100, 100, 16)).toBe(3); // 2 calls answered per 100 ms, one more for the compare between
    expect(lanesFor(20, 120, 100, 16)).toBe(4);
    expect(lanesFor(20, 5, 100, 16)).toBe(2);
    expect(lanesFor(20, 100, 1.9, 16)).toBe(1); // fewer than two slices' worth of pages: not cut
    expect(lanesFor(10_000, 100, 1_000, 16)).toBe(16);
    expect(lanesFor(20, null, 100, 16)).toBe(1); // nothing measured
    expect(lanesFor(20, Number.NaN, 100, 16)).toBe(1);
  });
});

describe('edgePages and slicesFromEdges: slices of about the same size that cover every creation time', () => {
  it('spreads the edge pages evenly after page 1', () => {
    expect(edgePages(400, 3)).toEqual([134, 268]);
    expect(edgePages(8, 2)).toEqual([5]);
    expect(edgePages(100, 1)).toEqual([]);
  });

  it('cuts at the edges, newest first, the newest slice going on from page 2, the oldest open', () => {
    expect(slicesFromEdges([1_000_000, 3_000_000, 2_000_000], 1_000)).toEqual([
      { createStart: 3_000_000, firstPage: 2 },
      { createStart: 2_000_000, createEnd: 3_001_000, firstPage: 1 },
      { createStart: 1_000_000, createEnd: 2_001_000, firstPage: 1 },
      { createEnd: 1_001_000, firstPage: 1 },
    ]);
    expect(slicesFromEdges([], 1_000)).toEqual([{ firstPage: 2 }]);
    expect(slicesFromEdges([5_000, 5_000], 1_000)).toEqual([
      { createStart: 5_000, firstPage: 2 },
      { createEnd: 6_000, firstPage: 1 },
    ]);
  });

  it('leaves no creation time out, wherever the edges fall, bounds inclusive or exclusive', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31) * 1e9;
    for (let round = 0; round < 200; round++) {
      const edges = Array.from({ length: 1 + (round % 7) }, () => Math.round(random()));
      const slices = slicesFromEdges(edges, 1_000);
      const probes = [...edges, ...edges.map((e) => e - 1), ...edges.map((e) => e + 1), ...edges.map((e) => e + 1_000), -1e12, 1e13];
      for (let i = 0; i < 50; i++) probes.push(Math.round(random()));
      for (const createdAt of probes) {
        // Inclusive both ends, or exclusive at either: some slice still holds it.
        expect(slices.some((s) => inSlice(s, createdAt))).toBe(true);
        const exclusiveStart = slices.some(
          (s) => (s.createStart === undefined || createdAt > s.createStart) && (s.createEnd === undefined || createdAt <= s.createEnd),
        );
        const exclusiveEnd = slices.some(
          (s) => (s.createStart === undefined || createdAt >= s.createStart) && (s.createEnd === undefined || createdAt < s.createEnd),
        );
        expect(exclusiveStart && exclusiveEnd).toBe(true);
      }
    }
  });
});

describe('isLastPage and totalRecordOf: no empty page after a full last one', () => {
  it('stops when the pages read hold the total, or on a short page when there is none', () => {
    expect(isLastPage(2, 50, { length: 50, total: 100, firstCreatedAt: null })).toBe(true);
    expect(isLastPage(2, 50, { length: 50, total: 101, firstCreatedAt: null })).toBe(false);
    expect(isLastPage(2, 50, { length: 50, total: null, firstCreatedAt: null })).toBe(false);
    expect(isLastPage(3, 50, { length: 0, total: null, firstCreatedAt: null })).toBe(true);
    expect(isLastPage(1, 50, { length: 20, total: 1_000, firstCreatedAt: null })).toBe(true);
  });

  it('reads totalRecord as a count only when it is one', () => {
    expect(totalRecordOf(100)).toBe(100);
    expect(totalRecordOf('100')).toBe(100);
    expect(totalRecordOf(new LosslessNumber('100'))).toBe(100);
    expect(totalRecordOf(undefined)).toBeNull();
    expect(totalRecordOf(null)).toBeNull();
    expect(totalRecordOf(-1)).toBeNull();
    expect(totalRecordOf(1.5)).toBeNull();
    expect(totalRecordOf('many')).toBeNull();
    expect(totalRecordOf({})).toBeNull();
  });
});

describe('inLanes', () => {
  const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('runs at most `lanes` tasks at once and gives their results in order', async () => {
    let running = 0;
    let most = 0;
    const tasks = Array.from({ length: 12 }, (_, i) => async () => {
      most = Math.max(most, ++running);
      await tick(1 + ((i * 7) % 5));
      running--;
      return i;
    });
    expect(await inLanes(tasks, 3)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(most).toBe(3);
  });

  it('stops the others on the first failure, waits for them, and throws that failure', async () => {
    const boom = new Error('boom');
    const finished: number[] = [];
    let started = 0;
    const tasks = Array.from({ length: 10 }, (_, i) => async (signal: AbortSignal) => {
      started++;
      if (i === 1) {
        await tick(2);
        throw boom;
      }
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, 50);
        signal.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(signal.reason as Error);
        });
      });
      finished.push(i);
    });
    await expect(inLanes(tasks, 3)).rejects.toBe(boom);
    expect(started).toBe(3); // the queued ones never start
    expect(finished).toEqual([]);
  });

  it('stops when the caller aborts', async () => {
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const run = inLanes(
      [0, 1, 2].map(
        () => (signal: AbortSignal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error))),
      ),
      2,
      controller.signal,
    );
    controller.abort(reason);
    await expect(run).rejects.toBe(reason);
    await expect(inLanes([async () => 1], 1, controller.signal)).rejects.toBe(reason);
  });
});
