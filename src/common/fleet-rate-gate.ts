import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../redis/redis-connections.js';

/**
 * A sliding one-second log of calls, held in Redis for the whole fleet: a call is admitted only
 * when fewer than the limit were admitted in the last second plus this caller's margin (by
 * Redis's clock, so instances' clocks do not matter). The margin covers the time between
 * admission and the request reaching the other side, so that any second, as the other side
 * counts it, stays at the limit. Each caller counts over its own window; entries are kept for
 * the longest window any caller may use, so that a caller with a small margin never shortens
 * the window of one with a larger margin.
 */
const RESERVE_SCRIPT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local window = tonumber(ARGV[1])
local keep = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - keep)
if redis.call('ZCOUNT', KEYS[1], '(' .. (now - window), '+inf') < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], keep)
  return 0
end
local oldest = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. (now - window), '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
return math.max(1, tonumber(oldest[2]) + window - now)
`;

const WINDOW_MS = 1_000;

export class FleetRateGate {
  constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
    private readonly perSecond: number,
    /** Milliseconds added to the window; a function so that it can follow measured delays. */
    private readonly marginMs: () => number,
    /** The largest margin any caller of this log may ask for. */
    private readonly maxMarginMs = 1_000,
  ) {}

  /**
   * Resolves when a call may go out now, with the local time (performance.now()) at which the
   * admitting request to Redis was sent: the call's delay is measured from there. Throws when
   * Redis cannot say (the caller retries later).
   */
  async admit(signal?: AbortSignal): Promise<number> {
    for (;;) {
      signal?.throwIfAborted();
      const askedAt = performance.now();
      const margin = Math.min(this.maxMarginMs, Math.round(this.marginMs()));
      const waitMs = Number(
        await this.redis.eval(RESERVE_SCRIPT, 1, this.key, WINDOW_MS + margin, this.perSecond, randomUUID(), WINDOW_MS + this.maxMarginMs),
      );
      if (waitMs <= 0) return askedAt;
      await new Promise((resolve) => setTimeout(resolve, Math.min(waitMs, WINDOW_MS)));
    }
  }
}
