import type { DefaultJobOptions } from 'bullmq';

/**
 * The fleet's 1688 pull and sweep. One queue each, each with a global concurrency of 1: a run
 * is never made twice at once, by two instances or by a schedule and a manual run.
 */
export const ALIBABA_PULL_QUEUE = 'alibaba-pull';
export const ALIBABA_SWEEP_QUEUE = 'alibaba-sweep';
export const PULL_JOB = 'pull';
export const SWEEP_JOB = 'sweep';

export interface SyncJob {
  trigger: 'schedule' | 'manual';
}

export const ALIBABA_SYNC_JOB_OPTIONS: DefaultJobOptions = {
  // A run that fails is the next run's work (its watermark did not move).
  attempts: 1,
  removeOnComplete: { count: 100 },
  removeOnFail: { count: 1_000 },
};
