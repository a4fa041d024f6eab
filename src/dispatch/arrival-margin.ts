/**
 * How much longer than one second the send gate's window must be so that no second, as the
 * supplier counts arrivals, holds more calls than the limit. Calls admitted a second apart
 * arrive less than a second apart only when the first took longer to get there than the second:
 * the margin must cover the spread of admission-to-arrival delays, not the delay itself.
 *
 * Arrival is not observable here; admission-to-response is, and bounds it from above. The margin
 * is the spread (largest minus smallest) of the last 256 admission-to-response times, plus a
 * small allowance, kept within [MIN_MARGIN_MS, MAX_MARGIN_MS]. Until enough calls are measured it
 * is the fixed default. The largest, not a high percentile: measured on a loaded machine, the
 * 99th percentile let one sliding second in a few runs hold 1% more calls than the limit (its
 * outliers are exactly the calls that bunch up); the largest kept every second at the limit.
 */
export const DEFAULT_MARGIN_MS = 100;
export const MIN_MARGIN_MS = 10;
export const MAX_MARGIN_MS = 1_000;
/** Clock granularity and scheduling noise that the measurement cannot see. */
const ALLOWANCE_MS = 5;
const SAMPLES = 256;
const MIN_SAMPLES = 32;
/** Recomputed after this many new samples. */
const RECOMPUTE_EVERY = 16;

export class ArrivalMargin {
  private readonly samples = new Float64Array(SAMPLES);
  private count = 0;
  private next = 0;
  private sinceRecompute = 0;
  private current = DEFAULT_MARGIN_MS;

  /** One call's admission-to-response time, in milliseconds. */
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
    const spread = high - low + ALLOWANCE_MS;
    this.current = Math.round(Math.min(MAX_MARGIN_MS, Math.max(MIN_MARGIN_MS, spread)));
  }
}
