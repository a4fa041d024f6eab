import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { FleetRateGate } from '../common/fleet-rate-gate.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/app-config.module.js';
import { createFailFastRedis } from '../queues/fail-fast-redis.js';

/** Margin of the window while nothing is measured yet. */
const DEFAULT_MARGIN_MS = 100;

/**
 * The last word on EXTERNAL_API_RATE_LIMIT, taken just before each call. BullMQ's limiter
 * paces jobs as they start; time spent between a job's start and its request (a busy event
 * loop, a database look-up) could bunch calls up, and this gate keeps any second at the limit.
 */
@Injectable()
export class SendRateGate implements OnApplicationShutdown {
  private readonly logger = new Logger(SendRateGate.name);
  private readonly redis: Redis;
  private readonly gate: FleetRateGate;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.redis = createFailFastRedis(config.redisUrl, 'dispatch rate gate connection', this.logger);
    this.gate = new FleetRateGate(
      this.redis,
      `${config.queuePrefix}:dispatch-rate-log`,
      config.externalApiRateLimit,
      () => DEFAULT_MARGIN_MS,
    );
  }

  admit(): Promise<void> {
    return this.gate.admit();
  }

  onApplicationShutdown(): void {
    this.redis.disconnect();
  }
}
