import { Injectable, Logger, NotFoundException } from '@nestjs/common';
import type { Job, Queue } from 'bullmq';
import type { DeadLetterJob } from '../queues/dead-letter.js';
import { DeadLetterRedrivers } from '../queues/dead-letter-redrivers.js';
import { QueueCatalog } from '../queues/queue-catalog.js';

export interface DeadLetterView {
  jobId: string;
  name: string;
  failedReason: string;
  attemptsMade: number;
  failedAt: string;
  data: unknown;
}

/**
 * Operator actions on dead letters. A retry re-drives the job under its original job id (so
 * its idempotency key stays the same), or as the owning module registered; the dead letter is
 * removed only once the work is queued again, so a second retry finds nothing and changes nothing.
 */
@Injectable()
export class DeadLettersService {
  private readonly logger = new Logger(DeadLettersService.name);

  constructor(
    private readonly catalog: QueueCatalog,
    private readonly redrivers: DeadLetterRedrivers,
  ) {}

  async list(queueName: string, offset: number, limit: number): Promise<{ queue: string; total: number; items: DeadLetterView[] }> {
    const { deadLetters, work } = this.queues(queueName);
    const [total, jobs] = await Promise.all([deadLetters.getWaitingCount(), deadLetters.getWaiting(offset, offset + limit - 1)]);
    return { queue: work.name, total, items: jobs.map(toView) };
  }

  async retry(queueName: string, jobId: string): Promise<{ retried: string }> {
    const { deadLetters, work } = this.queues(queueName);
    const deadLetter = await deadLetters.getJob(jobId);
    if (!deadLetter) throw new NotFoundException(`no dead letter "${jobId}" in ${work.name}`);
    await this.redrive(work, deadLetter);
    await deadLetter.remove();
    this.logger.log({ msg: 'dead letter retried', queue: work.name, jobId });
    return { retried: jobId };
  }

  async retryAll(queueName: string): Promise<{ retried: number; failed: { jobId: string; reason: string }[] }> {
    const { deadLetters, work } = this.queues(queueName);
    let retried = 0;
    const failed: { jobId: string; reason: string }[] = [];
    for (let offset = 0; ;) {
      const batch = await deadLetters.getWaiting(offset, offset + 499);
      if (batch.length === 0) break;
      for (const deadLetter of batch) {
        try {
          await this.redrive(work, deadLetter);
          await deadLetter.remove();
          retried++;
        } catch (error) {
          // Left in place (and skipped over) so that an operator sees why.
          failed.push({ jobId: deadLetter.id as string, reason: (error as Error).message });
          offset++;
        }
      }
    }
    this.logger.log({ msg: 'dead letters retried', queue: work.name, retried, failed: failed.length });
    return { retried, failed };
  }

  async remove(queueName: string, jobId: string): Promise<{ deleted: string }> {
    const { deadLetters, work } = this.queues(queueName);
    const deadLetter = await deadLetters.getJob(jobId);
    if (!deadLetter) throw new NotFoundException(`no dead letter "${jobId}" in ${work.name}`);
    await deadLetter.remove();
    this.logger.log({ msg: 'dead letter deleted', queue: work.name, jobId });
    return { deleted: jobId };
  }

  private async redrive(work: Queue, deadLetter: Job<DeadLetterJob<unknown>>): Promise<void> {
    const custom = this.redrivers.for(work.name);
    if (custom) return custom(deadLetter.data);
    const original = deadLetter.data;
    // The failed original may still hold its job id; the new job takes it over.
    const previous = await work.getJob(original.jobId);
    if (previous && (await previous.isFailed())) await previous.remove();
    await work.add(original.name, original.data, { jobId: original.jobId });
  }

  private queues(name: string): { work: Queue; deadLetters: Queue<DeadLetterJob<unknown>> } {
    const queues = this.catalog.withDeadLetters(name);
    if (!queues) throw new NotFoundException(`no queue "${name}" with dead letters`);
    return { work: queues.work, deadLetters: queues.deadLetters as Queue<DeadLetterJob<unknown>> };
  }
}

function toView(job: Job<DeadLetterJob<unknown>>): DeadLetterView {
  return {
    jobId: job.id as string,
    name: job.data.name,
    failedReason: job.data.failedReason,
    attemptsMade: job.data.attemptsMade,
    failedAt: job.data.failedAt,
    data: job.data.data,
  };
}
