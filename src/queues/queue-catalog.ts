import { BullModule } from '@nestjs/bullmq';
import type { DefaultJobOptions } from 'bullmq';
import { DEAD_LETTER_JOB_OPTIONS } from './dead-letter.js';
import {
  DISPATCH_RESULTS_DLQ,
  DISPATCH_RESULTS_JOB_OPTIONS,
  DISPATCH_RESULTS_QUEUE,
  DISPATCH_SCHEDULE_JOB_OPTIONS,
  DISPATCH_SCHEDULE_QUEUE,
  ORDER_DISPATCH_DLQ,
  ORDER_DISPATCH_JOB_OPTIONS,
  ORDER_DISPATCH_QUEUE,
} from './order-dispatch.queue.js';
import { ORDER_EVENTS_DLQ, ORDER_EVENTS_JOB_OPTIONS, ORDER_EVENTS_QUEUE } from './order-events.queue.js';

/** Every work queue, its job defaults, and the dead-letter queue its failures go to. */
export const WORK_QUEUES: { name: string; jobOptions: DefaultJobOptions; deadLetterQueue: string | null }[] = [
  { name: ORDER_EVENTS_QUEUE, jobOptions: ORDER_EVENTS_JOB_OPTIONS, deadLetterQueue: ORDER_EVENTS_DLQ },
  { name: ORDER_DISPATCH_QUEUE, jobOptions: ORDER_DISPATCH_JOB_OPTIONS, deadLetterQueue: ORDER_DISPATCH_DLQ },
  { name: DISPATCH_RESULTS_QUEUE, jobOptions: DISPATCH_RESULTS_JOB_OPTIONS, deadLetterQueue: DISPATCH_RESULTS_DLQ },
  { name: DISPATCH_SCHEDULE_QUEUE, jobOptions: DISPATCH_SCHEDULE_JOB_OPTIONS, deadLetterQueue: null },
];

export const DEAD_LETTER_QUEUES = WORK_QUEUES.flatMap((queue) => (queue.deadLetterQueue ? [queue.deadLetterQueue] : []));

export const ALL_QUEUES = [...WORK_QUEUES.map((queue) => queue.name), ...DEAD_LETTER_QUEUES];

/** The work queue a route names, by its own name or its dead-letter queue's. */
export function workQueueNamed(name: string): { name: string; deadLetterQueue: string } | null {
  const queue = WORK_QUEUES.find((q) => q.name === name || q.deadLetterQueue === name);
  return queue?.deadLetterQueue ? { name: queue.name, deadLetterQueue: queue.deadLetterQueue } : null;
}

/**
 * Registers queues for a module with the defaults above, so that every module holding a
 * queue adds jobs with the same retention, attempts and backoff.
 */
export function registerQueues(...names: string[]) {
  return BullModule.registerQueue(
    ...names.map((name) => {
      const work = WORK_QUEUES.find((queue) => queue.name === name);
      if (work) return { name, defaultJobOptions: work.jobOptions };
      if (DEAD_LETTER_QUEUES.includes(name)) return { name, defaultJobOptions: DEAD_LETTER_JOB_OPTIONS };
      throw new Error(`queue "${name}" is not in the queue catalog`);
    }),
  );
}
