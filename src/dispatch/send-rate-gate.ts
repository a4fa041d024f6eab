import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/app-config.module.js';
import { createFailFastRedis } from '../queues/fail-fast-redis.js';

/**
 * Sliding one-second log of calls, held in Redis for the whole fleet: a call is admitted only
 * when fewer than the limit were admitted in the last second (by Redis's clock, so instances'
 * clocks do not matter). The margin covers the few milliseconds between admission and the
 * request reaching the supplier.
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
const MARGIN_MS = 100;

/**
 * The last word on EXTERNAL_API_RATE_LIMIT, taken just before each call. BullMQ's limiter
 * paces jobs as they start; time spent between a job's start and its request (a busy event
 * loop, a database look-up) could bunch calls up, and this gate keeps any second at the limit.
 */
@Injectable()
export class SendRateGate implements OnApplicationShutdown {
  private readonly logger = new Logger(SendRateGate.name);
  private readonly redis: Redis;
  private readonly key: string;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.redis = createFailFastRedis(config.redisUrl, 'dispatch rate gate connection', this.logger);
    this.key = `${config.queuePrefix}:dispatch-rate-log`;
  }

  /** Resolves when a call may go out now; throws when Redis cannot say (the job is retried). */
  async admit(): Promise<void> {
    for (;;) {
      const waitMs = Number(
        await this.redis.eval(RESERVE_SCRIPT, 1, this.key, WINDOW_MS + MARGIN_MS, this.config.externalApiRateLimit, randomUUID()),
      );
      if (waitMs <= 0) return;
      await new Promise((resolve) => setTimeout(resolve, Math.min(waitMs, WINDOW_MS)));
    }
  }

  onApplicationShutdown(): void {
    this.redis.disconnect();
  }
}
