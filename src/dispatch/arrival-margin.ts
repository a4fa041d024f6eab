/**
 * How much longer than one second a rate gate's window must be so that no second, as the other
 * side counts arrivals, holds more calls than the limit. Calls admitted a second apart arrive
 * less than a second apart only when the first took longer to get there than the second: the
 * margin must cover the spread of admission-to-arrival delays, not the delay itself.
 *
 * Both callers measure admission (the request to Redis that admitted the call) to the answer's
 * headers: an upper bound of the way there that also holds the other side's stalls. The margin is the spread
 * (largest minus smallest) of the last 256 samples plus an allowance for what the samples cannot
 * see (the network's and the other side's own jitter), kept within [minMs, maxMs]; until 32 calls
 * are measured it is the default. The largest, not a high percentile: on a loaded machine the
 * 99th percentile let a sliding second hold 1–2 % more calls than the limit (its outliers are
 * exactly the calls that bunch up).
 */
export interface ArrivalMarginOptions {
  allowanceMs: number;
  minMs: number;
  maxMs: number;
  defaultMs: number;
}

/**
 * The dispatch gate's: over admission-to-answer times, never under 100 ms. Below that (10 ms at
 * least, the spread alone) the benchmark reached 0.97 of the limit, but on a loaded machine the
 * fake supplier, whose own event loop stalls, counted 201 calls in a second of 200 (chaos) and up
 * to 510 of 500 (bench): stalls the spread of the last answers does not foresee. So the margin
 * only grows past the fixed 100 ms it replaced, when answers spread wider.
 */
export const DISPATCH_MARGIN: ArrivalMarginOptions = { allowanceMs: 5, minMs: 100, maxMs: 250, defaultMs: 100 };

const SAMPLES = 256;
const MIN_SAMPLES = 32;
/** Recomputed after this many new samples. */
const RECOMPUTE_EVERY = 16;

export class ArrivalMargin {
  private readonly samples = new Float64Array(SAMPLES);
  private count = 0;
  private next = 0;
  private sinceRecompute = 0;
  private current: number;

  constructor(private readonly options: ArrivalMarginOptions = DISPATCH_MARGIN) {
    this.current = options.defaultMs;
  }

  /** One call's measured delay, in milliseconds. */
  record(delayMs: number): void {
    if (!Number.isFinite(delayMs) || delayMs < 0) return;
    this.samples[this.next] = delayMs;
    this.next = (this.next + 1) % SAMPLES;
    this.count = Math.min(this.count + 1, SAMPLES);
    if (++this.sinceRecompute >= RECOMPUTE_EVERY || this.count === MIN_SAMPLES) this.recompute();
  }

  marginMs(): number {
    return this.current;
  }

  private recompute(): void {
    this.sinceRecompute = 0;
    if (this.count < MIN_SAMPLES) return;
    let low = Number.POSITIVE_INFINITY;
    let high = 0;
    for (const sample of this.samples.subarray(0, this.count)) {
      if (sample < low) low = sample;
      if (sample > high) high = sample;
    }
    const { allowanceMs, minMs, maxMs } = this.options;
    this.current = Math.round(Math.min(maxMs, Math.max(minMs, high - low + allowanceMs)));
  }
}
