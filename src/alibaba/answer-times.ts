/** Answers kept per API: enough for a steady median, few enough to follow a change within a minute of calls. */
const SAMPLES = 64;

/**
 * How long 1688 takes to answer, from a call's admission by the rate gate to its answer read:
 * the median of the last SAMPLES answers of each API. The sweep sizes its concurrency by it (at
 * the limit L, a call answered in t seconds keeps L × t calls in flight).
 */
export class AnswerTimes {
  private readonly byApi = new Map<string, { samples: Float64Array; count: number; next: number }>();

  /** One answer of `api`, `ms` after its admission. */
  record(api: string, ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    let ring = this.byApi.get(api);
    if (!ring) this.byApi.set(api, (ring = { samples: new Float64Array(SAMPLES), count: 0, next: 0 }));
    ring.samples[ring.next] = ms;
    ring.next = (ring.next + 1) % SAMPLES;
    ring.count = Math.min(ring.count + 1, SAMPLES);
  }

  /** The last answer time of `api`; null before any. */
  lastMs(api: string): number | null {
    const ring = this.byApi.get(api);
    return ring && ring.count > 0 ? ring.samples[(ring.next + SAMPLES - 1) % SAMPLES] : null;
  }

  /** The median answer time of `api`, else of every API measured (the same gateway); null before any answer. */
  medianMs(api: string): number | null {
    const own = this.byApi.get(api);
    if (own && own.count > 0) return median(Array.from(own.samples.subarray(0, own.count)));
    const all = [...this.byApi.values()].flatMap((ring) => Array.from(ring.samples.subarray(0, ring.count)));
    return all.length > 0 ? median(all) : null;
  }
}

function median(values: number[]): number {
  const sorted = values.sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
