import { InjectQueue, OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Job, Queue } from 'bullmq';
import { MicroBatcher, applyOrSplit } from '../common/micro-batcher.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { deadLetterOf, isLastAttempt, type DeadLetterJob } from '../queues/dead-letter.js';
import { DISPATCH_RESULTS_DLQ, DISPATCH_RESULTS_QUEUE, type DispatchResultJob } from '../queues/order-dispatch.queue.js';
import { DispatchResultApplier, type ResultOutcome } from './dispatch-result-applier.js';

const BATCH_SIZE = 200;
const BATCH_WINDOW_MS = 10;

/**
 * Writes dispatch results to the orders, in batches. Every error is worth a retry here (a lock,
 * a link racing a 1688 message for the same supplier order, the database away): a failed batch
 * is retried result by result, and a result that still cannot be written is dead-lettered, its
 * order left PROCESSING for an operator to see.
 */
// Short locks: a result takes milliseconds, and one held by a dead worker should move on soon.
@Processor(DISPATCH_RESULTS_QUEUE, { lockDuration: 5_000, stalledInterval: 5_000, maxStalledCount: 5 })
export class DispatchResultsProcessor extends WorkerHost implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DispatchResultsProcessor.name);
  private readonly batcher = new MicroBatcher<DispatchResultJob, ResultOutcome>((results) => this.applyBatch(results), BATCH_SIZE, BATCH_WINDOW_MS);

  constructor(
    private readonly applier: DispatchResultApplier,
    @InjectQueue(DISPATCH_RESULTS_DLQ) private readonly deadLetters: Queue<DeadLetterJob<DispatchResultJob>>,
    private readonly metrics: MetricsService,
  ) {
    super();
  }

  onApplicationBootstrap(): void {
    // Enough results in hand to fill one batch while the previous one is written.
    this.worker.concurrency = BATCH_SIZE * 2;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.batcher.drain();
  }

  process(job: Job<DispatchResultJob>): Promise<ResultOutcome> {
    return this.metrics.timeJob(DISPATCH_RESULTS_QUEUE, () => this.apply(job));
  }

  private async apply(job: Job<DispatchResultJob>): Promise<ResultOutcome> {
    try {
      return await this.batcher.add(job.data);
    } catch (error) {
      const final = isLastAttempt(job, error);
      this.logger.warn({ orderId: job.data.orderId, outcome: job.data.outcome, attempt: job.attemptsMade + 1, final, err: (error as Error).message }, 'dispatch result not applied');
      if (final) await this.deadLetters.add(job.name, deadLetterOf(job, error as Error), { jobId: job.id });
      throw error;
    }
  }

  /**
   * A job whose worker died while holding it too many times is failed by BullMQ without
   * reaching process(): it gets its dead letter here, so it is never dropped silently.
   */
  @OnWorkerEvent('failed')
  async onFailed(job: Job<DispatchResultJob> | undefined, error: Error): Promise<void> {
    if (!job || !/stalled/i.test(error.message)) return;
    this.logger.error({ msg: 'job failed after its workers died while holding it; dead-lettered', jobId: job.id, err: error.message });
    await this.deadLetters.add(job.name, deadLetterOf(job, error), { jobId: job.id });
  }

  private applyBatch(results: DispatchResultJob[]): Promise<PromiseSettledResult<ResultOutcome>[]> {
    return applyOrSplit(results, (batch) => this.applier.apply(batch));
  }
}
