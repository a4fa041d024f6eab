/**
 * Gathers items handed in one at a time and runs them through `flush` together, when items
 * of `maxSize` in all wait (each counts `sizeOf(item)`, 1 by default) or `windowMs` has passed
 * since the first, whichever comes first.
 * Each caller gets the outcome of its own item: `flush` answers one settled result per item,
 * or throws to fail the whole batch.
 */
export class MicroBatcher<T, R> {
  private pending: { item: T; resolve: (result: R) => void; reject: (error: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private pendingSize = 0;
  private inFlight = new Set<Promise<void>>();

  constructor(
    private readonly flush: (items: T[]) => Promise<PromiseSettledResult<R>[]>,
    private readonly maxSize: number,
    private readonly windowMs: number,
    private readonly sizeOf: (item: T) => number = () => 1,
  ) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.pendingSize += this.sizeOf(item);
      if (this.pendingSize >= this.maxSize) this.flushNow();
      else if (!this.timer && !this.immediate) this.schedule();
    });
  }

  /** Flushes what waits and resolves once every batch started so far has settled. */
  async drain(): Promise<void> {
    this.flushNow();
    await Promise.allSettled([...this.inFlight]);
  }

  private schedule(): void {
    // A zero window still gathers everything handed in during this turn of the event loop.
    if (this.windowMs === 0) this.immediate = setImmediate(() => this.flushNow());
    else this.timer = setTimeout(() => this.flushNow(), this.windowMs);
  }

  private flushNow(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.immediate) {
      clearImmediate(this.immediate);
      this.immediate = null;
    }
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.pendingSize = 0;
    const run = this.flush(batch.map((entry) => entry.item)).then(
      (results) =>
        batch.forEach((entry, index) => {
          const result = results[index];
          if (result?.status === 'fulfilled') entry.resolve(result.value);
          else entry.reject(result ? result.reason : new Error('batch gave no result for this item'));
        }),
      (error: unknown) => batch.forEach((entry) => entry.reject(error)),
    );
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
  }
}

/**
 * Applies a batch in one go; when that fails and the failure may belong to one item
 * (`split`), applies each item on its own so that the others still land. A failure that would
 * hit every item alike (the database away) fails the whole batch at once.
 */
export async function applyOrSplit<T, R>(
  items: T[],
  apply: (items: T[]) => Promise<R[]>,
  options: { split?: (error: unknown) => boolean; itemError?: (error: unknown) => unknown } = {},
): Promise<PromiseSettledResult<R>[]> {
  const itemError = options.itemError ?? ((error: unknown) => error);
  try {
    return (await apply(items)).map((value) => ({ status: 'fulfilled', value }));
  } catch (batchError) {
    if (items.length === 1 || !(options.split?.(batchError) ?? true)) throw itemError(batchError);
    const settled: PromiseSettledResult<R>[] = [];
    for (const item of items) {
      try {
        settled.push({ status: 'fulfilled', value: (await apply([item]))[0] });
      } catch (error) {
        settled.push({ status: 'rejected', reason: itemError(error) });
      }
    }
    return settled;
  }
}
