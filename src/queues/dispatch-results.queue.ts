import type { DefaultJobOptions } from 'bullmq';
import { dispatchJobId } from './order-dispatch.queue.js';

/** What each call to the external API did, recorded on the orders in batches. Written and read by dispatch. */
export const DISPATCH_RESULTS_QUEUE = 'dispatch-results';
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
export function dispatchResultJobId(
  result: Pick<DispatchResultJob, 'orderId' | 'outcome' | 'attempt'>,
  dispatchJobCreatedAt: number,
): string {
  return `${dispatchJobId(result.orderId)}-${dispatchJobCreatedAt}-${result.outcome}-${result.attempt}`;
}

export const DISPATCH_RESULTS_JOB_OPTIONS: DefaultJobOptions = {
  attempts: 10,
  backoff: { type: 'exponential', delay: 500, jitter: 0.5 },
  removeOnComplete: { age: 3_600, count: 100_000 },
  removeOnFail: { age: 7 * 24 * 3_600 },
};
