import { UnrecoverableError, type DefaultJobOptions, type Job } from 'bullmq';

/** A job that could not be done after every attempt, kept with its reason until an operator acts. */
export interface DeadLetterJob<T> {
  queue: string;
  jobId: string;
  name: string;
  data: T;
  attemptsMade: number;
  failedReason: string;
  failedAt: string;
}

export const DEAD_LETTER_JOB_OPTIONS: DefaultJobOptions = {
  // Dead letters wait for a person: never expire them automatically.
  removeOnComplete: true,
  removeOnFail: false,
};

/** The dead letter of a job failing on its current attempt; its job id is the original's. */
export function deadLetterOf<T>(job: Job<T>, error: Error): DeadLetterJob<T> {
  return {
    queue: job.queueName,
    jobId: job.id as string,
    name: job.name,
    data: job.data,
    attemptsMade: job.attemptsMade + 1,
    failedReason: error.message,
    failedAt: new Date().toISOString(),
  };
}

/** Whether this failure is the job's last: no attempts left, or a final error. */
export function isLastAttempt(job: Job, error: unknown): boolean {
  return error instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}
