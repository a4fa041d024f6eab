import type { DefaultJobOptions } from 'bullmq';

/**
 * Dispatch's timers and nudges, one worker runs each job for the fleet: claim PENDING orders
 * (DISPATCH_CRON), recover expired leases, and claim orders just created (written by orders).
 */
export const DISPATCH_SCHEDULE_QUEUE = 'dispatch-schedule';
export const CLAIM_PENDING_JOB = 'claim-pending';
export const RECOVER_EXPIRED_JOB = 'recover-expired';
export const CLAIM_CREATED_JOB = 'claim-created';

export type DispatchScheduleJob = Record<string, never> | ClaimCreatedJob;

/** Orders created just now, to be sent soon rather than at the next DISPATCH_CRON tick. */
export interface ClaimCreatedJob {
  orderIds: string[];
}

export const DISPATCH_SCHEDULE_JOB_OPTIONS: DefaultJobOptions = {
  // A tick that fails is simply the next tick's work.
  attempts: 1,
  removeOnComplete: { count: 100 },
  removeOnFail: { count: 1_000 },
};
