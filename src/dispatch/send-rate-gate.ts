import { Inject, Injectable } from '@nestjs/common';
import { FleetRateGate } from '../common/fleet-rate-gate.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/app-config.module.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { FAIL_FAST_REDIS } from '../redis/redis.module.js';
import type { RedisClient } from '../redis/redis-connections.js';
import { ArrivalMargin, DISPATCH_MARGIN } from './arrival-margin.js';

/**
 * The last word on EXTERNAL_API_RATE_LIMIT, taken just before each call. BullMQ's limiter
 * paces jobs as they start; time spent between a job's start and its request (a busy event
 * loop, a database look-up) could bunch calls up, and this gate keeps any second at the limit.
 * Its window is one second plus a margin of at least 100 ms that widens with the measured spread
 * of this process's admission-to-answer times (ArrivalMargin; at most 250 ms, so that a slow
 * answer costs a fifth of the limit at worst). Narrower margins were measured and refused: see
 * DISPATCH_MARGIN.
 */
@Injectable()
export class SendRateGate {
  private readonly gate: FleetRateGate;
  private readonly margin = new ArrivalMargin(DISPATCH_MARGIN);

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(FAIL_FAST_REDIS) redis: RedisClient,
    private readonly metrics: MetricsService,
  ) {
    this.gate = new FleetRateGate(
      redis,
      `${config.queuePrefix}:dispatch-rate-log`,
      config.externalApiRateLimit,
      () => this.margin.marginMs(),
      DISPATCH_MARGIN.maxMs,
    );
    this.metrics.dispatchSendMargin.set(this.margin.marginMs() / 1000);
  }

  /** Resolves when a call may go out, with the hook to call when its answer's headers arrive. */
  async admit(): Promise<() => void> {
    const admittedAt = await this.gate.admit();
    return () => {
      this.margin.record(performance.now() - admittedAt);
      this.metrics.dispatchSendMargin.set(this.margin.marginMs() / 1000);
    };
  }
}
