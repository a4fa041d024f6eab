import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger } from '@nestjs/common';
import type { Job, Queue } from 'bullmq';
import { deadLetterOf, isLastAttempt, type DeadLetterJob } from '../queues/dead-letter.js';
import { DISPATCH_RESULTS_DLQ, DISPATCH_RESULTS_QUEUE, type DispatchResultJob } from '../queues/order-dispatch.queue.js';
import { DispatchResultApplier, type ResultOutcome } from './dispatch-result-applier.js';

/**
 * Writes dispatch results to the orders. Every error is worth a retry here (a lock, a link
 * racing a 1688 message for the same supplier order, the database away); a result that still
 * cannot be written is dead-lettered, and its order stays PROCESSING for an operator to see.
 */
// Short locks: a result takes milliseconds, and one held by a dead worker should move on soon.
@Processor(DISPATCH_RESULTS_QUEUE, { concurrency: 16, lockDuration: 5_000, stalledInterval: 5_000, maxStalledCount: 5 })
export class DispatchResultsProcessor extends WorkerHost {
  private readonly logger = new Logger(DispatchResultsProcessor.name);

  constructor(
    private readonly applier: DispatchResultApplier,
    @InjectQueue(DISPATCH_RESULTS_DLQ) private readonly deadLetters: Queue<DeadLetterJob<DispatchResultJob>>,
  ) {
    super();
  }

  async process(job: Job<DispatchResultJob>): Promise<ResultOutcome> {
    try {
      return await this.applier.apply(job.data);
    } catch (error) {
      const final = isLastAttempt(job, error);
      this.logger.warn({ orderId: job.data.orderId, outcome: job.data.outcome, attempt: job.attemptsMade + 1, final, err: (error as Error).message }, 'dispatch result not applied');
      if (final) await this.deadLetters.add(job.name, deadLetterOf(job, error as Error), { jobId: job.id });
      throw error;
    }
  }
}
