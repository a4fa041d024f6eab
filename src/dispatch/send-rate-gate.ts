import { Inject, Injectable } from '@nestjs/common';
import { FleetRateGate } from '../common/fleet-rate-gate.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/app-config.module.js';
import { FAIL_FAST_REDIS } from '../redis/redis.module.js';
import type { RedisClient } from '../redis/redis-connections.js';

/** Margin of the window while nothing is measured yet. */
const DEFAULT_MARGIN_MS = 100;

/**
 * The last word on EXTERNAL_API_RATE_LIMIT, taken just before each call. BullMQ's limiter
 * paces jobs as they start; time spent between a job's start and its request (a busy event
 * loop, a database look-up) could bunch calls up, and this gate keeps any second at the limit.
 */
@Injectable()
export class SendRateGate {
  private readonly gate: FleetRateGate;

  constructor(@Inject(APP_CONFIG) config: AppConfig, @Inject(FAIL_FAST_REDIS) redis: RedisClient) {
    this.gate = new FleetRateGate(redis, `${config.queuePrefix}:dispatch-rate-log`, config.externalApiRateLimit, () => DEFAULT_MARGIN_MS);
  }

  admit(): Promise<void> {
    return this.gate.admit();
  }
}
