/**
 * Keeps a repeated log line from flooding the disk: during an outage every request fails the
 * same way (thousands a second). Per key, the first occurrence is logged, then at most one line
 * per interval, carrying how many were left out since the last one.
 */
export class LogThrottle {
  private readonly lastLogged = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly intervalMs = 10_000,
    /** Monotonic: a wall-clock step back would otherwise hide every repeated line for as long. */
    private readonly now: () => number = () => performance.now(),
    /** Keys remembered at most; the oldest is forgotten past this (keys are few: routes, reasons). */
    private readonly maxKeys = 1_000,
  ) {}

  /**
   * Whether to log an occurrence of `key` now, and if so how many were left out before it
   * (`null`: leave this one out too).
   */
  take(key: string): { suppressed: number } | null {
    const now = this.now();
    const entry = this.lastLogged.get(key);
    if (entry && now - entry.at < this.intervalMs) {
      entry.suppressed++;
      return null;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.lastLogged.delete(key);
    this.lastLogged.set(key, { at: now, suppressed: 0 });
    if (this.lastLogged.size > this.maxKeys) {
      const oldest = this.lastLogged.keys().next().value;
      if (oldest !== undefined) this.lastLogged.delete(oldest);
    }
    return { suppressed };
  }
}
