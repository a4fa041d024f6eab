import type { DefaultJobOptions } from 'bullmq';

/** Claimed orders waiting to be sent to the external API. Written by orders, read by dispatch. */
export const ORDER_DISPATCH_QUEUE = 'order-dispatch';
/** Orders whose sending failed for good or ran out of attempts; retried by an operator. */
export const ORDER_DISPATCH_DLQ = 'order-dispatch-dead';
export const DISPATCH_ORDER_JOB = 'dispatch-order';

export interface DispatchOrderJob {
  orderId: string;
  payload: unknown;
  /** Queued again by lease recovery: the order may have finished meanwhile. */
  recovered?: boolean;
}

/** One job per order: the job id is the order id, so an order can be queued only once. */
export function dispatchJobId(orderId: string): string {
  // Job ids cannot contain ":"; order ids may.
  return encodeURIComponent(orderId);
}

export const ORDER_DISPATCH_JOB_OPTIONS: DefaultJobOptions = {
  // `attempts` comes from DISPATCH_MAX_ATTEMPTS when a job is added.
  backoff: { type: 'dispatch' },
  // Kept a while so that a re-claim of the same order finds its job; the order row holds the outcome.
  removeOnComplete: { age: 3_600 },
  // The dead-letter queue keeps the failure, and a retry must be able to re-add the job id.
  removeOnFail: true,
};

/** What a dispatch did, sent back to the orders module, the only writer of orders. */
export const DISPATCH_RESULTS_QUEUE = 'dispatch-results';
export const DISPATCH_RESULTS_DLQ = 'dispatch-results-dead';
export const DISPATCH_RESULT_JOB = 'dispatch-result';

export type DispatchOutcome = 'completed' | 'failed' | 'retrying';

export interface DispatchResultJob {
  orderId: string;
  outcome: DispatchOutcome;
  /** Calls made for this order in this round, this one included. */
  attempt: number;
  /** From a success answer: links the order to the supplier's order. */
  supplierOrderId: string | null;
  error: string | null;
  at: string;
}

/** One result per call: a re-run of the same call after a crash reports it once. */
export function dispatchResultJobId(result: Pick<DispatchResultJob, 'orderId' | 'outcome' | 'attempt'>, dispatchJobCreatedAt: number): string {
  return `${dispatchJobId(result.orderId)}-${dispatchJobCreatedAt}-${result.outcome}-${result.attempt}`;
}

export const DISPATCH_RESULTS_JOB_OPTIONS: DefaultJobOptions = {
  attempts: 10,
  backoff: { type: 'exponential', delay: 500, jitter: 0.5 },
  removeOnComplete: { age: 3_600, count: 100_000 },
  removeOnFail: { age: 7 * 24 * 3_600 },
};

/** Fleet-wide timers of dispatch: claim PENDING orders, recover expired leases. */
export const DISPATCH_SCHEDULE_QUEUE = 'dispatch-schedule';
export const CLAIM_PENDING_JOB = 'claim-pending';
export const RECOVER_EXPIRED_JOB = 'recover-expired';
export type DispatchScheduleJob = Record<string, never>;

export const DISPATCH_SCHEDULE_JOB_OPTIONS: DefaultJobOptions = {
  attempts: 1,
  removeOnComplete: { count: 100 },
  removeOnFail: { count: 1_000 },
};
