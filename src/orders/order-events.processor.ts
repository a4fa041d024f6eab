import { InjectQueue, OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { UnrecoverableError, type Job, type Queue } from 'bullmq';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { isTransientDatabaseError } from '../common/database-errors.js';
import { MicroBatcher, applyOrSplit } from '../common/micro-batcher.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { deadLetterOf, isLastAttempt, type DeadLetterJob } from '../queues/dead-letter.js';
import { ORDER_EVENTS_DLQ, ORDER_EVENTS_QUEUE, type ApplyMessageJob } from '../queues/order-events.queue.js';
import { OrderMessageApplier, type ApplyOutcome } from './order-message-applier.js';

/**
 * Applies queued webhook messages. BullMQ hands jobs over one by one (with high concurrency);
 * the batcher turns them into one transaction per batch. A batch that fails is retried job by
 * job, so one bad message cannot hold the others back.
 */
// A kill -9 in the middle of a batch stalls every job of it: let a job outlive a few of those,
// and let another worker take them over within seconds (locks are renewed every 5 s).
@Processor(ORDER_EVENTS_QUEUE, { maxStalledCount: 5, lockDuration: 10_000, stalledInterval: 5_000 })
export class OrderEventsProcessor extends WorkerHost implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(OrderEventsProcessor.name);
  private readonly batcher: MicroBatcher<ApplyMessageJob, ApplyOutcome>;
  private readonly concurrency: number;

  constructor(
    private readonly applier: OrderMessageApplier,
    @InjectQueue(ORDER_EVENTS_DLQ) private readonly deadLetters: Queue<DeadLetterJob<ApplyMessageJob>>,
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    super();
    this.batcher = new MicroBatcher((jobs) => this.applyBatch(jobs), config.applyBatchSize, config.applyBatchWindowMs);
    this.concurrency = config.applyBatchSize * 2;
  }

  onApplicationBootstrap(): void {
    // Enough jobs in hand to fill one batch while the previous one is written.
    this.worker.concurrency = this.concurrency;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.batcher.drain();
  }

  process(job: Job<ApplyMessageJob>): Promise<ApplyOutcome> {
    return this.metrics.timeJob(ORDER_EVENTS_QUEUE, () => this.apply(job));
  }

  private async apply(job: Job<ApplyMessageJob>): Promise<ApplyOutcome> {
    try {
      const outcome = await this.batcher.add(job.data);
      this.metrics.messagesApplied.inc({ source: job.data.source, outcome });
      if (outcome === 'applied') {
        const now = Date.now();
        for (const change of job.data.changes) this.metrics.supplierLag.observe(Math.max(0, now - Date.parse(change.occurredAt)) / 1000);
      }
      return outcome;
    } catch (error) {
      const final = isLastAttempt(job, error);
      this.logger.warn(
        { source: job.data.source, messageId: job.data.messageId, attempt: job.attemptsMade + 1, final, err: (error as Error).message },
        'message not applied',
      );
      if (final) await this.deadLetter(job, error as Error);
      throw error;
    }
  }

  /**
   * A job whose worker died while holding it too many times is failed by BullMQ without
   * reaching process(): it gets its dead letter here, so it is never dropped silently.
   */
  @OnWorkerEvent('failed')
  async onFailed(job: Job<ApplyMessageJob> | undefined, error: Error): Promise<void> {
    if (!job || !/stalled/i.test(error.message)) return;
    this.logger.error({ msg: 'job failed after its workers died while holding it; dead-lettered', jobId: job.id, err: error.message });
    await this.deadLetters.add(job.name, deadLetterOf(job, error), { jobId: job.id });
  }

  private applyBatch(jobs: ApplyMessageJob[]): Promise<PromiseSettledResult<ApplyOutcome>[]> {
    // A database that is away fails every message alike: retry them all later. A data error
    // belongs to one message: the good ones still land.
    return applyOrSplit(jobs, (batch) => this.applier.apply(batch), { split: (error) => !isTransientDatabaseError(error), itemError: classify });
  }

  private async deadLetter(job: Job<ApplyMessageJob>, error: Error): Promise<void> {
    await this.deadLetters.add(job.name, deadLetterOf(job, error), { jobId: job.id });
  }

}

/** Data errors will fail again: stop retrying them. */
function classify(error: unknown): Error {
  if (isTransientDatabaseError(error)) return error as Error;
  return new UnrecoverableError(`cannot apply message: ${(error as Error).message}`);
}
