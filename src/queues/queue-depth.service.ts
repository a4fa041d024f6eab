import { Injectable, ServiceUnavailableException } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { QueueCatalog } from './queue-catalog.js';

export interface QueueDepth {
  name: string;
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  deadLettered: number;
  oldestWaitingAgeMs: number | null;
}

export interface DepthSnapshot {
  queues: QueueDepth[];
  /** When the counts were read, and how old they are now. */
  asOf: string;
  snapshotAgeMs: number;
}

interface Snapshot {
  queues: QueueDepth[];
  at: number;
}

/** A snapshot younger than this is served as it is; an older one is refreshed in the background. */
const FRESH_MS = 250;
/** Older than this, a reader waits for the refresh instead of being served stale counts. */
const STALE_MS = 2_000;
/** A refresh that takes longer fails (Redis away): readers get a 503 at once, not a hung request. */
const READ_TIMEOUT_MS = 2_000;

/**
 * Every queue's counts, through BullMQ's public API (one counting script and one peek at the
 * oldest waiting job per queue, all in flight at once), kept as a snapshot that probes and
 * scrapes read without touching Redis: under load they never queue behind the work.
 */
@Injectable()
export class QueueDepthService {
  private snapshot: Snapshot | null = null;
  private refreshing: Promise<Snapshot> | null = null;

  constructor(private readonly catalog: QueueCatalog) {}

  async depths(): Promise<DepthSnapshot> {
    let current = this.snapshot;
    if (!current || Date.now() - current.at > STALE_MS) current = await this.refresh();
    else if (Date.now() - current.at > FRESH_MS) this.refresh().catch(() => undefined);
    return { queues: current.queues, asOf: new Date(current.at).toISOString(), snapshotAgeMs: Math.max(0, Date.now() - current.at) };
  }

  private refresh(): Promise<Snapshot> {
    this.refreshing ??= withTimeout(this.read(), READ_TIMEOUT_MS)
      .then((queues) => (this.snapshot = { queues, at: Date.now() }))
      .catch((error: Error) => {
        this.snapshot = null;
        throw new ServiceUnavailableException(`queue depths are unknown: ${error.message}`);
      })
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  private async read(): Promise<QueueDepth[]> {
    const specs = this.catalog.specs;
    const counts = await Promise.all(specs.map((spec) => countsOf(this.catalog.queue(spec.name))));
    const byName = new Map(specs.map((spec, i) => [spec.name, counts[i]]));
    return specs.map((spec) => {
      const own = byName.get(spec.name) as Counts;
      // A dead-letter queue has no worker: everything in it waits for an operator.
      const deadLettered =
        spec.kind === 'dead-letter' ? own.waiting : spec.deadLetterQueue ? (byName.get(spec.deadLetterQueue)?.waiting ?? 0) : 0;
      return { name: spec.name, ...own, deadLettered };
    });
  }
}

type Counts = Omit<QueueDepth, 'name' | 'deadLettered'>;

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

async function countsOf(queue: Queue): Promise<Counts> {
  const [counts, oldest] = await Promise.all([
    queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed'),
    queue.getJobs(['waiting'], 0, 0, true),
  ]);
  const first = oldest[0];
  return {
    waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
    active: counts.active ?? 0,
    delayed: counts.delayed ?? 0,
    failed: counts.failed ?? 0,
    oldestWaitingAgeMs: first ? Math.max(0, Date.now() - first.timestamp) : null,
  };
}
