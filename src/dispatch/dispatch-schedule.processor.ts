import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Job, Queue } from 'bullmq';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/app-config.module.js';
import {
  CLAIM_CREATED_JOB,
  CLAIM_PENDING_JOB,
  DISPATCH_SCHEDULE_JOB_OPTIONS,
  DISPATCH_SCHEDULE_QUEUE,
  RECOVER_EXPIRED_JOB,
  type ClaimCreatedJob,
  type DispatchScheduleJob,
} from '../queues/dispatch-schedule.queue.js';
import { DependencyOutages } from '../queues/dependency-outages.js';
import { JobFailurePolicy } from '../queues/job-failure-policy.js';
import type { NeedsPostgres } from '../queues/worker-registry.js';
import { DispatchClaimsService } from './dispatch-claims.service.js';
import { LeaseRecoveryService } from './lease-recovery.service.js';

/**
 * The fleet's dispatch timers. Job schedulers live in Redis under fixed ids, so every worker
 * upserting them at boot still makes one schedule for the whole fleet, and one worker runs
 * each tick. A tick that fails (Postgres away) is logged; the next one does its work.
 */
@Processor(DISPATCH_SCHEDULE_QUEUE, { concurrency: 4 })
export class DispatchScheduleProcessor extends WorkerHost implements OnApplicationBootstrap, OnApplicationShutdown, NeedsPostgres {
  readonly needsPostgres = true;
  private readonly logger = new Logger(DispatchScheduleProcessor.name);
  private readonly policy: JobFailurePolicy;
  private closing = false;

  constructor(
    private readonly claims: DispatchClaimsService,
    private readonly recovery: LeaseRecoveryService,
    @InjectQueue(DISPATCH_SCHEDULE_QUEUE) private readonly schedule: Queue<DispatchScheduleJob>,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    outages: DependencyOutages,
  ) {
    super();
    this.policy = new JobFailurePolicy({ deadLetters: null, logger: this.logger, outages, describe: (job) => ({ job: job.name }) });
  }

  /** Not awaited: a worker that starts while Redis is away starts anyway and schedules once it is back. */
  onApplicationBootstrap(): void {
    void this.upsertSchedules();
  }

  onApplicationShutdown(): void {
    this.closing = true;
  }

  async process(job: Job<DispatchScheduleJob>, token?: string): Promise<unknown> {
    try {
      return await this.run(job);
    } catch (error) {
      return this.policy.fail(job, token, error);
    }
  }

  private async run(job: Job<DispatchScheduleJob>): Promise<unknown> {
    switch (job.name) {
      case CLAIM_PENDING_JOB: {
        const claimed = await this.claims.claimPending();
        if (claimed > 0) this.logger.log({ msg: 'claimed PENDING orders on schedule', claimed });
        return { claimed };
      }
      case CLAIM_CREATED_JOB:
        return { claimed: await this.claims.claimIds((job.data as ClaimCreatedJob).orderIds) };
      case RECOVER_EXPIRED_JOB:
        return this.recovery.recoverExpired();
      default:
        throw new Error(`unknown dispatch schedule job "${job.name}"`);
    }
  }

  private async upsertSchedules(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.schedule.upsertJobScheduler(
          CLAIM_PENDING_JOB,
          { pattern: this.config.dispatchCron },
          { name: CLAIM_PENDING_JOB, data: {}, opts: DISPATCH_SCHEDULE_JOB_OPTIONS },
        );
        await this.schedule.upsertJobScheduler(
          RECOVER_EXPIRED_JOB,
          { every: this.config.dispatchRecoveryIntervalMs },
          { name: RECOVER_EXPIRED_JOB, data: {}, opts: DISPATCH_SCHEDULE_JOB_OPTIONS },
        );
        return;
      } catch (error) {
        if (this.closing) return;
        if (attempt === 1 || attempt % 10 === 0)
          this.logger.warn({ msg: 'dispatch schedules not set yet; retrying', attempt, err: (error as Error).message });
        await new Promise((resolve) => setTimeout(resolve, Math.min(attempt * 500, 5_000)));
      }
    }
  }
}
