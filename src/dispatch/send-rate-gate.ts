import { Inject, Injectable } from '@nestjs/common';
import { FleetRateGate } from '../common/fleet-rate-gate.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/app-config.module.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { FAIL_FAST_REDIS } from '../redis/redis.module.js';
import type { RedisClient } from '../redis/redis-connections.js';
import { ArrivalMargin } from './arrival-margin.js';

/**
 * The last word on EXTERNAL_API_RATE_LIMIT, taken just before each call. BullMQ's limiter
 * paces jobs as they start; time spent between a job's start and its request (a busy event
 * loop, a database look-up) could bunch calls up, and this gate keeps any second at the limit.
 * Its window is one second plus a margin that follows this process's measured delays
 * (ArrivalMargin), so a steady supplier is used closer to its limit than a fixed margin allows.
 */
@Injectable()
export class SendRateGate {
  private readonly gate: FleetRateGate;
  private readonly margin = new ArrivalMargin();

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(FAIL_FAST_REDIS) redis: RedisClient,
    private readonly metrics: MetricsService,
  ) {
    this.gate = new FleetRateGate(redis, `${config.queuePrefix}:dispatch-rate-log`, config.externalApiRateLimit, () =>
      this.margin.marginMs(),
    );
  }

  /** Resolves when a call may go out; the answer is the admission time for `answered`. */
  async admit(): Promise<number> {
    await this.gate.admit();
    return performance.now();
  }

  /** The supplier's answer (its headers) arrived for a call admitted at `admittedAt`. */
  answered(admittedAt: number): void {
    this.margin.record(performance.now() - admittedAt);
    this.metrics.dispatchSendMargin.set(this.margin.marginMs() / 1000);
  }

  marginMs(): number {
    return this.margin.marginMs();
  }
}
