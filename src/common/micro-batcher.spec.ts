import { describe, expect, it } from 'vitest';
import { MicroBatcher, applyOrSplit } from './micro-batcher.js';

const fulfilled = <R>(value: R): PromiseFulfilledResult<R> => ({ status: 'fulfilled', value });

describe('MicroBatcher', () => {
  it('flushes a full batch at once and gives each caller its own result', async () => {
    const batches: number[][] = [];
    const batcher = new MicroBatcher<number, number>(
      async (items) => {
        batches.push(items);
        return items.map((n) => fulfilled(n * 10));
      },
      3,
      60_000,
    );
    const results = await Promise.all([1, 2, 3].map((n) => batcher.add(n)));
    expect(results).toEqual([10, 20, 30]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('flushes a partial batch when the window closes', async () => {
    const batcher = new MicroBatcher<string, string>(async (items) => items.map((s) => fulfilled(s.toUpperCase())), 100, 5);
    await expect(Promise.all([batcher.add('a'), batcher.add('b')])).resolves.toEqual(['A', 'B']);
  });

  it('rejects every caller of a failed batch', async () => {
    const batcher = new MicroBatcher<number, number>(async () => Promise.reject(new Error('db down')), 2, 5);
    const outcomes = await Promise.allSettled([batcher.add(1), batcher.add(2)]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
  });

  it('fails only the items the batch says failed', async () => {
    const batcher = new MicroBatcher<number, number>(
      async (items) => items.map((n) => (n % 2 ? fulfilled(n) : ({ status: 'rejected', reason: new Error(`bad ${n}`) } as const))),
      2,
      60_000,
    );
    const outcomes = await Promise.allSettled([batcher.add(1), batcher.add(2)]);
    expect(outcomes[0]).toEqual({ status: 'fulfilled', value: 1 });
    expect(outcomes[1]).toMatchObject({ status: 'rejected', reason: new Error('bad 2') });
  });

  it('drain waits for batches in flight', async () => {
    let finished = 0;
    const batcher = new MicroBatcher<number, void>(
      async (items) => {
        await new Promise((resolve) => setImmediate(resolve));
        finished += items.length;
        return items.map(() => fulfilled(undefined));
      },
      10,
      60_000,
    );
    void batcher.add(1);
    void batcher.add(2);
    await batcher.drain();
    expect(finished).toBe(2);
  });
});

describe('applyOrSplit', () => {
  const apply = async (items: number[]) => {
    if (items.includes(13)) throw new Error(`bad item in ${items.join(',')}`);
    return items.map((n) => n * 2);
  };

  it('applies the whole batch at once when it can', async () => {
    expect(await applyOrSplit([1, 2], apply)).toEqual([
      { status: 'fulfilled', value: 2 },
      { status: 'fulfilled', value: 4 },
    ]);
  });

  it('splits a failed batch so that only the bad item fails', async () => {
    const settled = await applyOrSplit([1, 13, 3], apply, { itemError: (error) => new Error(`final: ${(error as Error).message}`) });
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason.message).toBe('final: bad item in 13');
  });

  it('fails the whole batch when the failure would hit every item alike', async () => {
    await expect(applyOrSplit([1, 13], apply, { split: () => false })).rejects.toThrow('bad item in 1,13');
  });
});
