import type { DefaultJobOptions, Job } from 'bullmq';

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

/** The dead letter of a job that failed for good; its job id is the original's. */
export function deadLetterOf<T>(job: Job<T>, reason: string, attemptsMade: number): DeadLetterJob<T> {
  return {
    queue: job.queueName,
    jobId: job.id as string,
    name: job.name,
    data: job.data,
    attemptsMade,
    failedReason: reason,
    failedAt: new Date().toISOString(),
  };
}
