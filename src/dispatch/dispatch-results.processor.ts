import { InjectQueue, OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Job, Queue } from 'bullmq';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/app-config.module.js';
import { MicroBatcher, applyOrSplit } from '../common/micro-batcher.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { DependencyOutages } from '../queues/dependency-outages.js';
import { DISPATCH_RESULTS_QUEUE, type DispatchResultJob } from '../queues/dispatch-results.queue.js';
import { isInfrastructureError } from '../queues/infrastructure-errors.js';
import { JobFailurePolicy } from '../queues/job-failure-policy.js';
import { deadLetterQueueOf } from '../queues/queue-catalog.js';
import type { NeedsPostgres } from '../queues/worker-registry.js';
import { DispatchResultApplier, type ResultOutcome } from './dispatch-result-applier.js';

/**
 * Records dispatch results on the orders, in batches. A batch that fails for another reason than
 * our infrastructure is retried result by result, so one result cannot hold the others back; a
 * result that still cannot be written uses its attempts and is then dead-lettered, its order
 * left PROCESSING for lease recovery and an operator to see.
 */
// Short locks: a result takes milliseconds, and one held by a dead worker should move on soon.
@Processor(DISPATCH_RESULTS_QUEUE, { lockDuration: 5_000, stalledInterval: 5_000, maxStalledCount: 10 })
export class DispatchResultsProcessor extends WorkerHost implements OnApplicationBootstrap, OnApplicationShutdown, NeedsPostgres {
  readonly needsPostgres = true;
  private readonly logger = new Logger(DispatchResultsProcessor.name);
  private readonly batcher: MicroBatcher<DispatchResultJob, ResultOutcome>;
  private readonly policy: JobFailurePolicy;

  constructor(
    private readonly applier: DispatchResultApplier,
    @InjectQueue(deadLetterQueueOf(DISPATCH_RESULTS_QUEUE)) deadLetters: Queue,
    outages: DependencyOutages,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    super();
    this.batcher = new MicroBatcher((results) => this.applyBatch(results), config.resultsBatchSize, config.resultsBatchWindowMs);
    this.policy = new JobFailurePolicy({
      deadLetters,
      logger: this.logger,
      outages,
      describe: (job: Job<DispatchResultJob>) => ({
        orderId: job.data.orderId,
        outcome: job.data.outcome,
        attemptOfCall: job.data.attempt,
      }),
      onDeferred: (kind) => metrics.jobsDeferred.inc({ queue: DISPATCH_RESULTS_QUEUE, reason: kind }),
    });
  }

  onApplicationBootstrap(): void {
    // Enough results in hand to fill one batch while the previous one is written.
    this.worker.concurrency = this.config.resultsBatchSize * 2;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.batcher.drain();
  }

  process(job: Job<DispatchResultJob>, token?: string): Promise<ResultOutcome> {
    return this.metrics.timeJob(DISPATCH_RESULTS_QUEUE, async () => {
      try {
        return await this.batcher.add(job.data);
      } catch (error) {
        return this.policy.fail(job, token, error);
      }
    });
  }

  @OnWorkerEvent('failed')
  onFailed(job: Job | undefined, error: Error): Promise<void> {
    return this.policy.onFailed(job, error);
  }

  private applyBatch(results: DispatchResultJob[]): Promise<PromiseSettledResult<ResultOutcome>[]> {
    // The database away fails every result alike: the whole batch waits. Anything else may be one result's.
    return applyOrSplit(results, (batch) => this.applier.apply(batch), { split: (error) => !isInfrastructureError(error) });
  }
}
