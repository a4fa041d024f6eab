import { InjectQueue, OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger, type Type } from '@nestjs/common';
import { RateLimitError, UnrecoverableError, type Job, type Queue, type WorkerOptions } from 'bullmq';
import type { AppConfig } from '../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { DependencyOutages } from '../queues/dependency-outages.js';
import {
  DISPATCH_RESULT_JOB,
  DISPATCH_RESULTS_QUEUE,
  dispatchResultJobId,
  type DispatchResultJob,
} from '../queues/dispatch-results.queue.js';
import { JobFailurePolicy, failureKind } from '../queues/job-failure-policy.js';
import { ORDER_DISPATCH_QUEUE, type DispatchOrderJob } from '../queues/order-dispatch.queue.js';
import { deadLetterQueueOf } from '../queues/queue-catalog.js';
import type { DispatchAnswer } from './dispatch-answer.js';
import { RetryableDispatchError, dispatchBackoffMs } from './dispatch-backoff.js';
import { DispatchClaimsService } from './dispatch-claims.service.js';
import { ExternalOrderApiClient } from './external-order-api.client.js';
import { SendRateGate } from './send-rate-gate.js';

/** What a dispatch job returns: kept on the finished job, so that lease recovery can report it again. */
export interface DispatchJobResult {
  outcome: 'completed' | 'skipped';
  result?: DispatchResultJob;
}

/**
 * Sends claimed orders to the external API, one job per order (job id from the order id, so no
 * two calls for one order run at once), at most EXTERNAL_API_RATE_LIMIT calls per second across
 * the fleet. Results are reported on dispatch-results and recorded in batches.
 */
export class OrderDispatchProcessor extends WorkerHost {
  private readonly logger = new Logger(OrderDispatchProcessor.name);
  private readonly policy: JobFailurePolicy;

  constructor(
    private readonly client: ExternalOrderApiClient,
    private readonly claims: DispatchClaimsService,
    @InjectQueue(DISPATCH_RESULTS_QUEUE) private readonly results: Queue<DispatchResultJob>,
    @InjectQueue(deadLetterQueueOf(ORDER_DISPATCH_QUEUE)) deadLetters: Queue,
    private readonly metrics: MetricsService,
    private readonly gate: SendRateGate,
    outages: DependencyOutages,
  ) {
    super();
    this.policy = new JobFailurePolicy({
      deadLetters,
      logger: this.logger,
      outages,
      describe: (job: Job<DispatchOrderJob>) => ({ orderId: job.data.orderId }),
      onDeferred: (kind) => metrics.jobsDeferred.inc({ queue: ORDER_DISPATCH_QUEUE, reason: kind }),
    });
  }

  process(job: Job<DispatchOrderJob>, token?: string): Promise<DispatchJobResult> {
    return this.metrics.timeJob(ORDER_DISPATCH_QUEUE, async () => {
      try {
        return await this.dispatch(job);
      } catch (error) {
        if (error instanceof RateLimitError) throw error;
        return this.policy.fail(job, token, error);
      }
    });
  }

  @OnWorkerEvent('failed')
  onFailed(job: Job | undefined, error: Error): Promise<void> {
    return this.policy.onFailed(job, error);
  }

  private async dispatch(job: Job<DispatchOrderJob>): Promise<DispatchJobResult> {
    const { orderId } = job.data;
    const attempt = job.attemptsMade + 1;
    // A job run again (a retry, a crashed worker's job, a recovered one) may find its order
    // finished meanwhile: nothing to send. A first run needs no look: its claim is fresh.
    const runBefore = job.attemptsStarted > 1 || job.data.recovered === true;
    if (runBefore && !(await this.claims.isAwaitingDispatch(orderId))) return { outcome: 'skipped' };

    const answered = await this.gate.admit();
    const answer = await this.client.send(orderId, job.data.payloadJson, answered);
    this.metrics.dispatchCalls.inc({ outcome: answer.kind === 'retry' && answer.rateLimited ? 'rate_limited' : answer.kind });
    if (answer.kind === 'success') {
      const result = await this.report(job, { outcome: 'completed', supplierOrderId: answer.supplierOrderId, error: answer.note });
      return { outcome: 'completed', result };
    }
    if (answer.kind === 'retry' && answer.rateLimited) {
      // A 429 slows the whole queue, on every instance, and does not use up an attempt.
      await this.worker.rateLimit(Math.max(answer.retryAfterMs ?? 1_000, 1));
      this.logger.warn({ orderId, attempt, retryAfterMs: answer.retryAfterMs, msg: 'external API rate-limited us; queue paused' });
      throw new RateLimitError();
    }
    const error =
      answer.kind === 'final' ? new UnrecoverableError(answer.reason) : new RetryableDispatchError(answer.reason, answer.retryAfterMs);
    const final = failureKind(error) === 'final' || attempt >= (job.opts.attempts ?? 1);
    await this.report(
      job,
      final
        ? { outcome: 'failed', supplierOrderId: null, error: describeFinal(answer, attempt) }
        : { outcome: 'retrying', supplierOrderId: null, error: error.message },
    );
    throw error;
  }

  private async report(
    job: Job<DispatchOrderJob>,
    result: Pick<DispatchResultJob, 'outcome' | 'supplierOrderId' | 'error'>,
  ): Promise<DispatchResultJob> {
    const data: DispatchResultJob = { orderId: job.data.orderId, attempt: job.attemptsMade + 1, at: new Date().toISOString(), ...result };
    // The job's creation time tells this round of sending from a later one (after a dead-letter retry).
    await this.results.add(DISPATCH_RESULT_JOB, data, { jobId: dispatchResultJobId(data, job.timestamp) });
    return data;
  }
}

function describeFinal(answer: DispatchAnswer, attempt: number): string {
  if (answer.kind === 'final') return answer.reason;
  if (answer.kind === 'retry') return `gave up after ${attempt} attempts; last: ${answer.reason}`;
  return 'unexpected';
}

/** Worker settings come from configuration, which decorators cannot read: decorate a subclass per boot. */
export function configuredDispatchProcessor(config: AppConfig): Type<OrderDispatchProcessor> {
  const options: Omit<WorkerOptions, 'connection'> = {
    concurrency: config.dispatchConcurrency,
    lockDuration: config.dispatchLockMs,
    // A dead worker's jobs are looked for as often as its locks expire, and a job may outlive a few.
    stalledInterval: config.dispatchLockMs,
    maxStalledCount: 10,
    limiter: dispatchRateLimiter(config.externalApiRateLimit),
    settings: { backoffStrategy: (attemptsMade: number, _type?: string, error?: Error) => dispatchBackoffMs(attemptsMade, error) },
  };
  @Processor(ORDER_DISPATCH_QUEUE, options)
  class ConfiguredOrderDispatchProcessor extends OrderDispatchProcessor {}
  return ConfiguredOrderDispatchProcessor;
}

/**
 * BullMQ's limiter paces jobs as they start, fleet-wide: a tenth of the limit per 100 ms (one
 * call per 1000/limit ms for small limits), so that workers do not crowd the send gate, which
 * holds any second, taken anywhere, to the limit.
 */
export function dispatchRateLimiter(perSecond: number): { max: number; duration: number } {
  if (perSecond >= 10) return { max: Math.floor(perSecond / 10), duration: 100 };
  return { max: 1, duration: Math.ceil(1_000 / perSecond) };
}
