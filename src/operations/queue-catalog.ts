import { DISPATCH_RESULTS_DLQ, DISPATCH_RESULTS_QUEUE, DISPATCH_SCHEDULE_QUEUE, ORDER_DISPATCH_DLQ, ORDER_DISPATCH_QUEUE } from '../queues/order-dispatch.queue.js';
import { ORDER_EVENTS_DLQ, ORDER_EVENTS_QUEUE } from '../queues/order-events.queue.js';

/** Every work queue and the dead-letter queue its failures go to. */
export const WORK_QUEUES: { name: string; deadLetterQueue: string | null }[] = [
  { name: ORDER_EVENTS_QUEUE, deadLetterQueue: ORDER_EVENTS_DLQ },
  { name: ORDER_DISPATCH_QUEUE, deadLetterQueue: ORDER_DISPATCH_DLQ },
  { name: DISPATCH_RESULTS_QUEUE, deadLetterQueue: DISPATCH_RESULTS_DLQ },
  { name: DISPATCH_SCHEDULE_QUEUE, deadLetterQueue: null },
];

export const DEAD_LETTER_QUEUES = WORK_QUEUES.flatMap((queue) => (queue.deadLetterQueue ? [queue.deadLetterQueue] : []));

export const ALL_QUEUES = [...WORK_QUEUES.map((queue) => queue.name), ...DEAD_LETTER_QUEUES];

/** The work queue a route names, by its own name or its dead-letter queue's. */
export function workQueueNamed(name: string): { name: string; deadLetterQueue: string } | null {
  const queue = WORK_QUEUES.find((q) => q.name === name || q.deadLetterQueue === name);
  return queue?.deadLetterQueue ? { name: queue.name, deadLetterQueue: queue.deadLetterQueue } : null;
}
