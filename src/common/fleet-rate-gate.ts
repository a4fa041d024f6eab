import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../redis/redis-connections.js';

/**
 * A sliding one-second log of calls, held in Redis for the whole fleet: a call is admitted only
 * when fewer than the limit were admitted in the last second plus a margin (by Redis's clock, so
 * instances' clocks do not matter). The margin covers the time between admission and the request
 * reaching the other side, so that any second, as the other side counts it, stays at the limit.
 */
const RESERVE_SCRIPT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
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
  ) {}

  /** Resolves when a call may go out now; throws when Redis cannot say (the caller retries later). */
  async admit(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const waitMs = Number(
        await this.redis.eval(RESERVE_SCRIPT, 1, this.key, WINDOW_MS + Math.round(this.marginMs()), this.perSecond, randomUUID()),
      );
      if (waitMs <= 0) return;
      await new Promise((resolve) => setTimeout(resolve, Math.min(waitMs, WINDOW_MS)));
    }
  }
}
