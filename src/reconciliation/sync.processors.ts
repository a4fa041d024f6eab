import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Job, Queue } from 'bullmq';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/app-config.module.js';
import {
  ALIBABA_PULL_QUEUE,
  ALIBABA_SWEEP_QUEUE,
  ALIBABA_SYNC_JOB_OPTIONS,
  PULL_JOB,
  SWEEP_JOB,
  type SyncJob,
} from '../queues/alibaba-sync.queue.js';
import { DependencyOutages } from '../queues/dependency-outages.js';
import { JobFailurePolicy } from '../queues/job-failure-policy.js';
import type { NeedsPostgres } from '../queues/worker-registry.js';
import { PullService } from './pull.service.js';
import { SweepService } from './sweep.service.js';

/**
 * Upserts a fleet-wide schedule (a job scheduler under a fixed id: every worker doing it still
 * makes one) and sets the queue's global concurrency to 1, retrying while Redis is away.
 */
async function schedule(queue: Queue<SyncJob>, name: string, cron: string, logger: Logger, closing: () => boolean): Promise<void> {
  for (let attempt = 1; !closing(); attempt++) {
    try {
      await queue.setGlobalConcurrency(1);
      if (cron === 'off') await queue.removeJobScheduler(name);
      else await queue.upsertJobScheduler(name, { pattern: cron }, { name, data: { trigger: 'schedule' }, opts: ALIBABA_SYNC_JOB_OPTIONS });
      return;
    } catch (error) {
      if (attempt === 1 || attempt % 10 === 0)
        logger.warn({ msg: '1688 sync schedule not set yet; retrying', queue: queue.name, attempt, err: (error as Error).message });
      await new Promise((resolve) => setTimeout(resolve, Math.min(attempt * 500, 5_000)));
    }
  }
}

/**
 * With the global concurrency taken, BullMQ waits up to maximumRateLimitDelay (30 s by default)
 * before it looks again: a queued run would start half a minute after the one before finished.
 */
// Short locks: a run of a worker that died holds the fleet's one slot until its lock expires.
const WORKER_OPTIONS = { maximumRateLimitDelay: 1_000, lockDuration: 10_000, stalledInterval: 5_000, maxStalledCount: 5 };

abstract class SyncProcessor extends WorkerHost implements OnApplicationBootstrap, OnApplicationShutdown, NeedsPostgres {
  readonly needsPostgres = true;
  protected abstract readonly logger: Logger;
  protected closing = false;
  private readonly runs = new AbortController();
  private policy?: JobFailurePolicy;

  protected constructor(
    private readonly queue: Queue<SyncJob>,
    private readonly jobName: string,
    private readonly cron: () => string,
    private readonly outages: DependencyOutages,
  ) {
    super();
  }

  onApplicationBootstrap(): void {
    this.policy = new JobFailurePolicy({
      deadLetters: null,
      logger: this.logger,
      outages: this.outages,
      describe: (job: Job<SyncJob>) => ({ job: job.name, trigger: job.data.trigger }),
    });
    void schedule(this.queue, this.jobName, this.cron(), this.logger, () => this.closing);
  }

  onApplicationShutdown(): void {
    this.closing = true;
    // A run in progress stops at its next call; its watermark does not move, the next run redoes it.
    this.runs.abort(new Error('shutting down'));
  }

  async process(job: Job<SyncJob>, token?: string): Promise<unknown> {
    try {
      return await this.run(job.data.trigger ?? 'schedule', this.runs.signal);
    } catch (error) {
      return (this.policy as JobFailurePolicy).fail(job, token, error);
    }
  }

  protected abstract run(trigger: SyncJob['trigger'], signal: AbortSignal): Promise<unknown>;
}

@Processor(ALIBABA_PULL_QUEUE, WORKER_OPTIONS)
export class PullProcessor extends SyncProcessor {
  protected readonly logger = new Logger(PullProcessor.name);

  constructor(
    private readonly pulls: PullService,
    @InjectQueue(ALIBABA_PULL_QUEUE) queue: Queue<SyncJob>,
    @Inject(APP_CONFIG) config: AppConfig,
    outages: DependencyOutages,
  ) {
    super(queue, PULL_JOB, () => (config.alibabaSyncEnabled ? config.pushPullCron : 'off'), outages);
  }

  protected run(trigger: SyncJob['trigger'], signal: AbortSignal): Promise<unknown> {
    return this.pulls.pull(trigger, signal);
  }
}

@Processor(ALIBABA_SWEEP_QUEUE, WORKER_OPTIONS)
export class SweepProcessor extends SyncProcessor {
  protected readonly logger = new Logger(SweepProcessor.name);

  constructor(
    private readonly sweeps: SweepService,
    @InjectQueue(ALIBABA_SWEEP_QUEUE) queue: Queue<SyncJob>,
    @Inject(APP_CONFIG) config: AppConfig,
    outages: DependencyOutages,
  ) {
    super(queue, SWEEP_JOB, () => (config.alibabaSyncEnabled ? config.reconcileCron : 'off'), outages);
  }

  protected run(trigger: SyncJob['trigger'], signal: AbortSignal): Promise<unknown> {
    return this.sweeps.sweep(trigger, signal);
  }
}
