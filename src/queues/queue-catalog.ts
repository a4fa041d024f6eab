import { Queue, type DefaultJobOptions } from 'bullmq';
import { mastersOf, type RedisClient } from '../redis/redis-connections.js';
import { ALIBABA_PULL_QUEUE, ALIBABA_SWEEP_QUEUE, ALIBABA_SYNC_JOB_OPTIONS } from './alibaba-sync.queue.js';
import { DEAD_LETTER_JOB_OPTIONS } from './dead-letter.js';
import { DISPATCH_RESULTS_JOB_OPTIONS, DISPATCH_RESULTS_QUEUE } from './dispatch-results.queue.js';
import { DISPATCH_SCHEDULE_JOB_OPTIONS, DISPATCH_SCHEDULE_QUEUE } from './dispatch-schedule.queue.js';
import { ORDER_DISPATCH_JOB_OPTIONS, ORDER_DISPATCH_QUEUE } from './order-dispatch.queue.js';
import { ORDER_EVENTS_JOB_OPTIONS, orderEventsQueues } from './order-events.queue.js';

export interface QueueSpec {
  name: string;
  /** Work queues have workers; dead-letter queues hold what failed for good until an operator acts. */
  kind: 'work' | 'dead-letter';
  jobOptions: DefaultJobOptions;
  /** Where a work queue's jobs go when they fail for good (null: a failed tick is just logged). */
  deadLetterQueue: string | null;
  /** A partition of order-events: on a Redis Cluster it gets a hash tag of its own (its own shard). */
  partitioned: boolean;
}

export interface CatalogOptions {
  orderEventsPartitions: number;
}

export const DEAD_LETTER_SUFFIX = '-dead';

export function deadLetterQueueOf(workQueue: string): string {
  return `${workQueue}${DEAD_LETTER_SUFFIX}`;
}

/** Every queue this service uses, with its job defaults and its dead-letter queue. */
export function queueSpecs(options: CatalogOptions): QueueSpec[] {
  const work = (name: string, jobOptions: DefaultJobOptions, deadLetters = true, partitioned = false): QueueSpec => ({
    name,
    kind: 'work',
    jobOptions,
    deadLetterQueue: deadLetters ? deadLetterQueueOf(name) : null,
    partitioned,
  });
  const partitioned = options.orderEventsPartitions > 1;
  const workQueues = [
    ...orderEventsQueues(options.orderEventsPartitions).map((name) => work(name, ORDER_EVENTS_JOB_OPTIONS, true, partitioned)),
    work(ORDER_DISPATCH_QUEUE, ORDER_DISPATCH_JOB_OPTIONS),
    work(DISPATCH_RESULTS_QUEUE, DISPATCH_RESULTS_JOB_OPTIONS),
    work(DISPATCH_SCHEDULE_QUEUE, DISPATCH_SCHEDULE_JOB_OPTIONS, false),
    work(ALIBABA_PULL_QUEUE, ALIBABA_SYNC_JOB_OPTIONS, false),
    work(ALIBABA_SWEEP_QUEUE, ALIBABA_SYNC_JOB_OPTIONS, false),
  ];
  const deadLetterQueues = workQueues.flatMap((queue) =>
    queue.deadLetterQueue
      ? [
          {
            name: queue.deadLetterQueue,
            kind: 'dead-letter' as const,
            jobOptions: DEAD_LETTER_JOB_OPTIONS,
            deadLetterQueue: null,
            partitioned: false,
          },
        ]
      : [],
  );
  return [...workQueues, ...deadLetterQueues];
}

/**
 * The process's one Queue instance per queue, by name: what every module adds jobs with and
 * what the operational surface reads. Built once by QueuesModule from {@link queueSpecs}.
 */
export class QueueCatalog {
  private readonly byName: Map<string, { spec: QueueSpec; queue: Queue }>;

  constructor(entries: { spec: QueueSpec; queue: Queue }[]) {
    this.byName = new Map(entries.map((entry) => [entry.spec.name, entry]));
  }

  get specs(): QueueSpec[] {
    return [...this.byName.values()].map((entry) => entry.spec);
  }

  get workQueues(): QueueSpec[] {
    return this.specs.filter((spec) => spec.kind === 'work');
  }

  queue<T = unknown>(name: string): Queue<T> {
    const entry = this.byName.get(name);
    if (!entry) throw new Error(`queue "${name}" is not in the queue catalog`);
    return entry.queue as Queue<T>;
  }

  /** The work queue a route names, by its own name or its dead-letter queue's, with both queues. */
  withDeadLetters(name: string): { work: Queue; deadLetters: Queue } | null {
    const spec = this.workQueues.find((q) => q.deadLetterQueue !== null && (q.name === name || q.deadLetterQueue === name));
    return spec?.deadLetterQueue ? { work: this.queue(spec.name), deadLetters: this.queue(spec.deadLetterQueue) } : null;
  }

  all(): Queue[] {
    return [...this.byName.values()].map((entry) => entry.queue);
  }

  /** Redis answers on the queues' connection, every master of a Cluster (for readiness). */
  async ping(): Promise<void> {
    const first = this.byName.values().next().value;
    if (!first) return;
    // BullMQ types its client as its own interface; on the Redis backend it is the ioredis client.
    const client = (await first.queue.getBackend().client) as unknown as RedisClient;
    if (client.status !== 'ready') throw new Error(`Redis connection is ${client.status}`);
    await Promise.all(mastersOf(client).map((node) => node.ping()));
  }
}
