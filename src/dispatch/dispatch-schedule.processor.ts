import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Job, Queue } from 'bullmq';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { CLAIM_PENDING_JOB, DISPATCH_SCHEDULE_JOB_OPTIONS, DISPATCH_SCHEDULE_QUEUE, RECOVER_EXPIRED_JOB, type DispatchScheduleJob } from '../queues/order-dispatch.queue.js';
import { DispatchClaimsService } from './dispatch-claims.service.js';

/**
 * The fleet's dispatch timers. Job schedulers live in Redis under fixed ids, so every worker
 * upserting them at boot still makes one schedule for the whole fleet, and one worker runs
 * each tick.
 */
@Processor(DISPATCH_SCHEDULE_QUEUE)
export class DispatchScheduleProcessor extends WorkerHost implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DispatchScheduleProcessor.name);
  private closing = false;

  constructor(
    private readonly claims: DispatchClaimsService,
    @InjectQueue(DISPATCH_SCHEDULE_QUEUE) private readonly schedule: Queue<DispatchScheduleJob>,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    super();
  }

  /** Not awaited: a worker that starts while Redis is away starts anyway and schedules once it is back. */
  onApplicationBootstrap(): void {
    void this.upsertSchedules();
  }

  private async upsertSchedules(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.schedule.upsertJobScheduler(CLAIM_PENDING_JOB, { pattern: this.config.dispatchCron }, { name: CLAIM_PENDING_JOB, data: {}, opts: DISPATCH_SCHEDULE_JOB_OPTIONS });
        await this.schedule.upsertJobScheduler(RECOVER_EXPIRED_JOB, { every: this.config.dispatchRecoveryIntervalMs }, { name: RECOVER_EXPIRED_JOB, data: {}, opts: DISPATCH_SCHEDULE_JOB_OPTIONS });
        return;
      } catch (error) {
        if (this.closing) return;
        if (attempt === 1 || attempt % 10 === 0) this.logger.warn({ msg: 'dispatch schedules not set yet; retrying', attempt, err: (error as Error).message });
        await new Promise((resolve) => setTimeout(resolve, Math.min(attempt * 500, 5_000)));
      }
    }
  }

  onApplicationShutdown(): void {
    this.closing = true;
  }

  async process(job: Job<DispatchScheduleJob>): Promise<unknown> {
    if (job.name === CLAIM_PENDING_JOB) {
      const claimed = await this.claims.claimPending();
      if (claimed > 0) this.logger.log({ msg: 'claimed PENDING orders on schedule', claimed });
      return { claimed };
    }
    if (job.name === RECOVER_EXPIRED_JOB) return this.claims.recoverExpired();
    throw new Error(`unknown dispatch schedule job "${job.name}"`);
  }
}
