import type { DefaultJobOptions } from 'bullmq';

/**
 * Verified webhook (and pulled) messages waiting to be applied to orders. Written by webhooks,
 * read by orders. Split into ORDER_EVENTS_PARTITIONS queues by a hash of the supplier order id,
 * so that on a Redis Cluster they spread over shards while each order's messages stay in one.
 */
export const ORDER_EVENTS_QUEUE = 'order-events';
export const APPLY_MESSAGES_JOB = 'apply-messages';

/** The queues of the inbound messages: `order-events` alone, or `order-events-0` … `-<n-1>`. */
export function orderEventsQueues(partitions: number): string[] {
  if (partitions <= 1) return [ORDER_EVENTS_QUEUE];
  return Array.from({ length: partitions }, (_, i) => `${ORDER_EVENTS_QUEUE}-${i}`);
}

/** FNV-1a over the UTF-8 bytes: stable across processes and versions, cheap, well spread. */
export function partitionOf(key: string, partitions: number): number {
  if (partitions <= 1) return 0;
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(key, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

/** `1688`: pushed or pulled from 1688 (one msgId space); `1688-reconcile`: made by a sweep; `orders`: generic webhooks. */
export type MessageSource = '1688' | '1688-reconcile' | 'orders';

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

/** One message as the orders module applies it. */
export interface InboundMessage {
  /** With messageId, the dedupe key (the inbox table's unique key). */
  source: MessageSource;
  messageId: string;
  topic: string;
  receivedAt: string;
  /** The message exactly as received, kept for history and replay. */
  body: string;
  changes: SupplierStatusChange[];
  /** Why the service does not act on this message (unknown topic); it is still recorded. */
  ignoredReason: string | null;
  /** How a 1688 message reached us: pushed to the webhook, or pulled from the Open API. */
  via?: 'push' | 'pull';
  /** The W3C traceparent of the request that took it in, when tracing is on: the apply links to it. */
  traceparent?: string;
}

/** A job carries the messages that arrived together (a millisecond or two of pushes). */
export interface ApplyMessagesJob {
  messages: InboundMessage[];
}

/** The partition a message belongs to: by its first supplier order id, else our order id, else its id. */
export function messagePartitionKey(message: InboundMessage): string {
  const change = message.changes[0];
  return change?.supplierOrderId ?? change?.orderId ?? message.messageId;
}

export const ORDER_EVENTS_JOB_OPTIONS: DefaultJobOptions = {
  // Attempts are used only by errors about the messages themselves (a bug, most likely):
  // infrastructure being away never uses one (see JobFailurePolicy).
  attempts: 8,
  backoff: { type: 'exponential', delay: 1_000, jitter: 0.5 },
  // The inbox table's unique key is the dedupe that lasts; completed jobs need not stay.
  removeOnComplete: { age: 600, count: 10_000 },
  // Failed jobs are dead-lettered; the failed set keeps them a week as a second record.
  removeOnFail: { age: 7 * 24 * 3_600 },
};
