import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger, type Type } from '@nestjs/common';
import { RateLimitError, UnrecoverableError, type Job, type Queue, type WorkerOptions } from 'bullmq';
import type { AppConfig } from '../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { DispatchClaimsService } from '../orders/dispatch-claims.service.js';
import { deadLetterOf, isLastAttempt, type DeadLetterJob } from '../queues/dead-letter.js';
import {
  DISPATCH_RESULT_JOB,
  DISPATCH_RESULTS_QUEUE,
  ORDER_DISPATCH_DLQ,
  ORDER_DISPATCH_QUEUE,
  dispatchResultJobId,
  type DispatchOrderJob,
  type DispatchResultJob,
} from '../queues/order-dispatch.queue.js';
import { RetryableDispatchError, dispatchBackoffMs } from './dispatch-backoff.js';
import type { DispatchAnswer } from './dispatch-answer.js';
import { ExternalOrderApiClient } from './external-order-api.client.js';
import { SendRateGate } from './send-rate-gate.js';

export type DispatchJobOutcome = 'completed' | 'skipped';

/**
 * Sends claimed orders to the external API, one job per order (job id = order id, so no two
 * calls for one order run at once), at most EXTERNAL_API_RATE_LIMIT calls per second across the
 * fleet (BullMQ's limiter lives in Redis). Results go back to the orders module by queue.
 */
export class OrderDispatchProcessor extends WorkerHost {
  private readonly logger = new Logger(OrderDispatchProcessor.name);

  constructor(
    private readonly client: ExternalOrderApiClient,
    private readonly claims: DispatchClaimsService,
    @InjectQueue(DISPATCH_RESULTS_QUEUE) private readonly results: Queue<DispatchResultJob>,
    @InjectQueue(ORDER_DISPATCH_DLQ) private readonly deadLetters: Queue<DeadLetterJob<DispatchOrderJob>>,
    private readonly metrics: MetricsService,
    private readonly gate: SendRateGate,
  ) {
    super();
  }

  process(job: Job<DispatchOrderJob>): Promise<DispatchJobOutcome> {
    return this.metrics.timeJob(ORDER_DISPATCH_QUEUE, () => this.dispatch(job));
  }

  private async dispatch(job: Job<DispatchOrderJob>): Promise<DispatchJobOutcome> {
    const { orderId } = job.data;
    const attempt = job.attemptsMade + 1;
    // A job run again (a retry, a crashed worker's job, a recovered one) may find its order
    // finished meanwhile: nothing to send. A first run needs no look: its claim is fresh.
    const runBefore = job.attemptsStarted > 1 || job.data.recovered === true;
    if (runBefore && !(await this.claims.isAwaitingDispatch(orderId))) return 'skipped';

    await this.gate.admit();
    const answer = await this.client.send(orderId, job.data.payload);
    this.metrics.dispatchCalls.inc({ outcome: answer.kind === 'retry' && answer.rateLimited ? 'rate_limited' : answer.kind });
    if (answer.kind === 'success') {
      await this.report(job, { outcome: 'completed', supplierOrderId: answer.supplierOrderId, error: answer.note });
      return 'completed';
    }
    if (answer.kind === 'retry' && answer.rateLimited) {
      // A 429 slows the whole queue, on every instance, and does not use up an attempt.
      await this.worker.rateLimit(Math.max(answer.retryAfterMs ?? 1_000, 1));
      this.logger.warn({ orderId, attempt, retryAfterMs: answer.retryAfterMs, msg: 'external API rate-limited us; queue paused' });
      throw new RateLimitError();
    }
    const error = answer.kind === 'final' ? new UnrecoverableError(answer.reason) : new RetryableDispatchError(answer.reason, answer.retryAfterMs);
    const final = isLastAttempt(job, error);
    this.logger.warn({ orderId, attempt, final, err: error.message, msg: 'dispatch attempt failed' });
    if (final) {
      await this.report(job, { outcome: 'failed', supplierOrderId: null, error: describeFinal(answer, attempt) });
      await this.deadLetters.add(job.name, deadLetterOf(job, error), { jobId: job.id });
    } else {
      await this.report(job, { outcome: 'retrying', supplierOrderId: null, error: error.message });
    }
    throw error;
  }

  private async report(job: Job<DispatchOrderJob>, result: Pick<DispatchResultJob, 'outcome' | 'supplierOrderId' | 'error'>): Promise<void> {
    const data: DispatchResultJob = { orderId: job.data.orderId, attempt: job.attemptsMade + 1, at: new Date().toISOString(), ...result };
    // The job's creation time tells this round of sending from a later one (after a dead-letter retry).
    await this.results.add(DISPATCH_RESULT_JOB, data, { jobId: dispatchResultJobId(data, job.timestamp) });
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
    maxStalledCount: 5,
    limiter: dispatchRateLimiter(config.externalApiRateLimit),
    settings: { backoffStrategy: (attemptsMade, _type, error) => dispatchBackoffMs(attemptsMade, error) },
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
