import type { Logger } from '@nestjs/common';
import { DelayedError, UnrecoverableError, type Job, type Queue } from 'bullmq';
import { deadLetterOf, type DeadLetterJob } from './dead-letter.js';
import type { DependencyOutages } from './dependency-outages.js';
import { isContention, isPostgresUnavailable, isRedisUnavailable } from './infrastructure-errors.js';

/** How long a job whose infrastructure was away waits before it is taken up again (plus jitter). */
const INFRASTRUCTURE_DELAY_MS = 2_000;
const CONTENTION_DELAY_MS = 200;

export type FailureKind = 'infrastructure' | 'contention' | 'final' | 'retry';

/** What an error means for the job that met it; decided here and nowhere else. */
export function failureKind(error: unknown): FailureKind {
  if (error instanceof UnrecoverableError) return 'final';
  if (isPostgresUnavailable(error) || isRedisUnavailable(error)) return 'infrastructure';
  if (isContention(error)) return 'contention';
  return 'retry';
}

export interface FailurePolicyOptions {
  /** Null for queues whose failures need no dead letter (a failed timer tick is the next tick's work). */
  deadLetters: Queue<DeadLetterJob<unknown>> | null;
  logger: Logger;
  outages: DependencyOutages;
  /** Fields that say what the job is about, for its log lines (order id, message count). */
  describe: (job: Job) => Record<string, unknown>;
  /** Counts jobs put back without an attempt used, by why. */
  onDeferred?: (kind: 'infrastructure' | 'contention') => void;
}

/**
 * The one failure policy of the processors. Errors about our own infrastructure (Postgres or
 * Redis away) and contention between our own transactions put the job back, delayed, without
 * using an attempt: an outage of any length dead-letters nothing. Other errors use an attempt;
 * final ones (UnrecoverableError) and the last attempt dead-letter the job, before BullMQ marks
 * it failed, so that a crash in between cannot lose the dead letter.
 */
export class JobFailurePolicy {
  constructor(private readonly options: FailurePolicyOptions) {}

  /** Called with whatever a job's work threw: puts it back, or records the failure; always throws. */
  async fail(job: Job, token: string | undefined, error: unknown): Promise<never> {
    const kind = failureKind(error);
    const err = error instanceof Error ? error : new Error(String(error));
    if (kind === 'infrastructure' || kind === 'contention') {
      if (kind === 'infrastructure' && isPostgresUnavailable(error)) this.options.outages.reportPostgresDown(error);
      this.options.onDeferred?.(kind);
      const base = kind === 'infrastructure' ? INFRASTRUCTURE_DELAY_MS : CONTENTION_DELAY_MS;
      try {
        await job.moveToDelayed(Date.now() + base + Math.floor(Math.random() * base), token);
      } catch {
        // Redis is away too: the job stays active until its lock expires, then BullMQ puts it
        // back as stalled. Either way no attempt is used.
      }
      throw new DelayedError(`${kind} away, job put back without using an attempt: ${err.message}`);
    }
    const attempt = job.attemptsMade + 1;
    const final = kind === 'final' || attempt >= (job.opts.attempts ?? 1);
    this.options.logger.warn({
      msg: !final ? 'job failed; will retry' : this.options.deadLetters ? 'job failed for good; dead-lettered' : 'job failed',
      ...this.options.describe(job),
      attempt,
      err: err.message,
    });
    if (final) await this.deadLetter(job, err.message, attempt);
    throw err;
  }

  /**
   * The worker's 'failed' event: a job that failed for good without passing through fail() (it
   * stalled too often: its workers died while holding it) gets its dead letter here. Adding the
   * same dead letter twice is a no-op (same job id).
   */
  async onFailed(job: Job | undefined, error: Error): Promise<void> {
    if (!job?.finishedOn) return; // retried: not final
    await this.deadLetter(job, error.message, job.attemptsMade);
  }

  private async deadLetter(job: Job, reason: string, attemptsMade: number): Promise<void> {
    if (!this.options.deadLetters) return;
    await this.options.deadLetters.add(job.name, deadLetterOf(job, reason, attemptsMade), { jobId: job.id });
  }
}
