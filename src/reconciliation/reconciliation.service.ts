import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/app-config.module.js';
import { ALIBABA_PULL_QUEUE, ALIBABA_SWEEP_QUEUE, PULL_JOB, SWEEP_JOB, type SyncJob } from '../queues/alibaba-sync.queue.js';
import { FAIL_FAST_REDIS } from '../redis/redis.module.js';
import type { RedisClient } from '../redis/redis-connections.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { lastPushKey } from '../webhooks/order-events.publisher.js';
import { SyncRepository, type SyncRunView } from './sync.repository.js';

export interface ReconciliationView {
  enabled: boolean;
  pull: { last: SyncRunView | null; lastFailed: SyncRunView | null; watermark: string | null; schedule: string };
  sweep: { last: SyncRunView | null; lastFailed: SyncRunView | null; watermark: string | null; schedule: string };
  /** The newest 1688 push any API process took in, and how long ago: silence is how an outage at 1688 looks. */
  newestPushReceivedAt: string | null;
  newestPushAgeMs: number | null;
  /** The oldest message the last pull found waiting at 1688 (0: none waited). */
  oldestUnconfirmedAgeMs: number | null;
}

/** Drift you can see: what the last pull and sweep did, the watermarks, the age of the newest push. */
@Injectable()
export class ReconciliationService implements OnModuleInit {
  constructor(
    private readonly sync: SyncRepository,
    @InjectQueue(ALIBABA_PULL_QUEUE) private readonly pulls: Queue<SyncJob>,
    @InjectQueue(ALIBABA_SWEEP_QUEUE) private readonly sweeps: Queue<SyncJob>,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
    @Inject(FAIL_FAST_REDIS) private readonly redis: RedisClient,
  ) {}

  onModuleInit(): void {
    this.metrics.fleetGauge(
      'ordersync_alibaba_newest_push_age_seconds',
      'Age of the newest 1688 push any API process took in (silence detection)',
      async () => {
        const at = await this.newestPush();
        return at === null ? null : Math.max(0, Date.now() - at) / 1000;
      },
    );
    this.metrics.fleetGauge(
      'ordersync_pull_oldest_unconfirmed_age_seconds',
      'Age of the oldest message the last pull found waiting at 1688 (0: none)',
      async () => {
        const age = (await this.sync.lastRuns()).last.pull?.counts?.oldestMessageAgeMs;
        return age === undefined ? null : age / 1000;
      },
    );
    this.metrics.fleetGauge(
      'ordersync_sync_last_success_timestamp_seconds',
      'When a pull last finished well (epoch seconds), whatever ran since',
      async () => {
        const at = await this.sync.lastSuccessAt('pull');
        return at === null ? null : new Date(at).getTime() / 1000;
      },
    );
  }

  async view(): Promise<ReconciliationView> {
    const [{ last, lastFailed }, pullMark, sweepMark, pushedAt] = await Promise.all([
      this.sync.lastRuns(),
      this.sync.watermark('pull'),
      this.sync.watermark('sweep'),
      this.newestPush(),
    ]);
    return {
      enabled: this.config.alibabaSyncEnabled,
      pull: {
        last: last.pull ?? null,
        lastFailed: lastFailed.pull ?? null,
        watermark: pullMark?.toISOString() ?? null,
        schedule: this.config.pushPullCron,
      },
      sweep: {
        last: last.sweep ?? null,
        lastFailed: lastFailed.sweep ?? null,
        watermark: sweepMark?.toISOString() ?? null,
        schedule: this.config.reconcileCron,
      },
      newestPushReceivedAt: pushedAt === null ? null : new Date(pushedAt).toISOString(),
      newestPushAgeMs: pushedAt === null ? null : Math.max(0, Date.now() - pushedAt),
      oldestUnconfirmedAgeMs: last.pull?.counts?.oldestMessageAgeMs ?? null,
    };
  }

  /** Queues a pull and a sweep now; each still runs once at a time for the fleet. */
  async runNow(): Promise<{ queued: string[] }> {
    await Promise.all([this.pulls.add(PULL_JOB, { trigger: 'manual' }), this.sweeps.add(SWEEP_JOB, { trigger: 'manual' })]);
    return { queued: ['pull', 'sweep'] };
  }

  async newestPush(): Promise<number | null> {
    try {
      const value = await this.redis.get(lastPushKey(this.config.queuePrefix));
      return value === null ? null : Number(value);
    } catch {
      return null;
    }
  }
}
