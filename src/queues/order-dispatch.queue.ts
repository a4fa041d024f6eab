import type { DefaultJobOptions } from 'bullmq';
import { strictPercentEncode } from '../common/percent-encoding.js';

/** Claimed orders waiting to be sent to the external API. Written and read by dispatch. */
export const ORDER_DISPATCH_QUEUE = 'order-dispatch';
export const DISPATCH_ORDER_JOB = 'dispatch-order';

export interface DispatchOrderJob {
  orderId: string;
  /** The order's payload as JSON text (numbers digit for digit), sent as is. */
  payloadJson: string;
  /** Queued again by lease recovery: the order may have finished meanwhile. */
  recovered?: boolean;
}

/**
 * One job per order: the job id comes from the order id, so an order can be queued only once.
 * BullMQ refuses job ids that read as integers ("1001") or hold ":"; the prefix and the
 * one-to-one encoding keep every order id usable.
 */
export function dispatchJobId(orderId: string): string {
  return `order-${strictPercentEncode(orderId)}`;
}

export const ORDER_DISPATCH_JOB_OPTIONS: DefaultJobOptions = {
  // `attempts` comes from DISPATCH_MAX_ATTEMPTS when a job is added.
  backoff: { type: 'dispatch' },
  // Kept a while: lease recovery reads a finished job's result from it instead of calling again.
  removeOnComplete: { age: 24 * 3_600 },
  removeOnFail: { age: 7 * 24 * 3_600 },
};
