import type { DefaultJobOptions } from 'bullmq';

/** Verified webhook messages waiting to be applied to orders. Written by webhooks, read by orders. */
export const ORDER_EVENTS_QUEUE = 'order-events';
/** Messages that could not be applied after every attempt, kept with their reason. */
export const ORDER_EVENTS_DLQ = 'order-events-dead';

export const APPLY_MESSAGE_JOB = 'apply-message';

export type MessageSource = '1688' | 'orders';

/** One supplier status change carried by a message; a 1688 ORDER_BATCH_PAY carries several. */
export interface SupplierStatusChange {
  /** Our order id, when the source knows it (generic webhooks). */
  orderId: string | null;
  /** The supplier's order id, digit for digit. */
  supplierOrderId: string | null;
  /** The status at the supplier; null when the message names none. */
  status: string | null;
  /** When the status changed at the supplier (ISO-8601): msgSendTime, else gmtBorn. */
  occurredAt: string;
  /** When the message was made (epoch ms): gmtBorn, the tie-breaker. */
  bornAt: number;
}

export interface ApplyMessageJob {
  source: MessageSource;
  messageId: string;
  topic: string;
  receivedAt: string;
  /** The message exactly as received, kept for history and replay. */
  body: string;
  changes: SupplierStatusChange[];
  /** Why the service does not act on this message (unknown topic); it is still recorded. */
  ignoredReason: string | null;
}

/** Job ids cannot contain ":"; message ids are user-controlled, so encode them. */
export function orderEventJobId(source: MessageSource, messageId: string): string {
  return `${source}-${encodeURIComponent(messageId)}`;
}

export const ORDER_EVENTS_JOB_OPTIONS: DefaultJobOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 500, jitter: 0.5 },
  // Completed jobs stay an hour so BullMQ's jobId dedupes 1688's quick re-sends cheaply;
  // later duplicates are caught by the inbox table's unique key.
  removeOnComplete: { age: 3_600, count: 200_000 },
  removeOnFail: { age: 7 * 24 * 3_600 },
};
