import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DataSource } from 'typeorm';
import { pgPoolOf } from '../database/pg-pool.js';
import { DEAD_LETTER_SUFFIX } from '../queues/queue-catalog.js';
import { QueueDepthService } from '../queues/queue-depth.service.js';

/**
 * The service's Prometheus metrics, one registry per instance (so in-process test services do
 * not share counters). Gauges of queues and the pool are read when scraped, not kept up to date.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly httpDuration = new Histogram({
    name: 'ordersync_http_request_duration_seconds',
    help: 'HTTP request latency by route and status',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly webhookMessages = new Counter({
    name: 'ordersync_webhook_messages_total',
    help: 'Webhook messages by source and outcome: accepted (queued), or rejected by reason',
    labelNames: ['source', 'outcome', 'reason'] as const,
    registers: [this.registry],
  });

  readonly messagesApplied = new Counter({
    name: 'ordersync_messages_applied_total',
    help: 'Queued messages written to orders, by outcome: applied, ignored (not acted on) or duplicate',
    labelNames: ['source', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly jobDuration = new Histogram({
    name: 'ordersync_job_duration_seconds',
    help: 'Time a job spent in its processor, by queue and outcome',
    labelNames: ['queue', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly dispatchCalls = new Counter({
    name: 'ordersync_dispatch_calls_total',
    help: 'Calls to the external order API by outcome: success, retry, final, rate_limited',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly dispatchSendMargin = new Gauge({
    name: 'ordersync_dispatch_send_margin_seconds',
    help: "What this process's send gate adds to its one-second window: the measured spread of admission-to-sent delays plus an allowance",
    registers: [this.registry],
  });

  readonly supplierLag = new Histogram({
    name: 'ordersync_supplier_status_lag_seconds',
    help: 'From a status change at the supplier (msgSendTime) to it being applied here',
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600],
    registers: [this.registry],
  });

  readonly jobsDeferred = new Counter({
    name: 'ordersync_jobs_deferred_total',
    help: 'Jobs put back without using an attempt, by queue and why: infrastructure (Postgres or Redis away) or contention',
    labelNames: ['queue', 'reason'] as const,
    registers: [this.registry],
  });

  readonly inboxExpired = new Counter({
    name: 'ordersync_inbox_expired_total',
    help: 'Inbox rows deleted for being older than INBOX_RETENTION_DAYS',
    registers: [this.registry],
  });

  readonly leaseRecoveries = new Counter({
    name: 'ordersync_dispatch_lease_recoveries_total',
    help: 'Orders whose dispatch lease expired, by what recovery did: extended (job alive), reported (result sent again), requeued (sent again)',
    labelNames: ['action'] as const,
    registers: [this.registry],
  });

  readonly alibabaApiCalls = new Counter({
    name: 'ordersync_alibaba_api_calls_total',
    help: 'Calls to the 1688 Open API by api and outcome: ok, rate-limited, unavailable, auth, signature, not-found, refused, bad-answer',
    labelNames: ['api', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly pulledMessages = new Counter({
    name: 'ordersync_pull_messages_total',
    help: 'Messages pulled from 1688 (push.query.messageList), by outcome: pulled (queued), confirmed, unconfirmable',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly reconciledOrders = new Counter({
    name: 'ordersync_reconcile_orders_total',
    help: "Orders a sweep compared with 1688's, by result: examined, drifted (1688 newer than ours: a repair was queued), unknown (no order of ours: an EXTERNAL one is made)",
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly syncRuns = new Counter({
    name: 'ordersync_sync_runs_total',
    help: 'Pull and sweep runs by kind and outcome (ok, failed)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [this.registry],
  });

  // Fleet-wide gauges (scope="fleet") read the same state from every process: aggregate them with
  // max(), never sum() (see docs/runbook.md).
  private readonly queueJobs = new Gauge({
    name: 'ordersync_queue_jobs',
    help: 'Jobs per queue and state (waiting, active, delayed, failed, dead_lettered); fleet-wide: aggregate with max()',
    labelNames: ['queue', 'state', 'scope'] as const,
    registers: [this.registry],
  });

  private readonly queueOldestWaiting = new Gauge({
    name: 'ordersync_queue_oldest_waiting_age_seconds',
    help: 'Age of the oldest waiting job per queue (0 when none waits); fleet-wide: aggregate with max()',
    labelNames: ['queue', 'scope'] as const,
    registers: [this.registry],
  });

  private readonly dbPool = new Gauge({
    name: 'ordersync_db_pool_connections',
    help: 'Database pool connections of this process by state: in_use, idle, waiting (requests queued for one), max (the pool size)',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly depth: QueueDepthService,
  ) {
    // Node's own metrics under their standard names (process_*, nodejs_*), as stock dashboards expect.
    collectDefaultMetrics({ register: this.registry });
  }

  /** Runs a job's work and records how long it took and how it ended. */
  async timeJob<T>(queue: string, work: () => Promise<T>): Promise<T> {
    const end = this.jobDuration.startTimer({ queue });
    try {
      const result = await work();
      end({ outcome: 'completed' });
      return result;
    } catch (error) {
      end({ outcome: 'failed' });
      throw error;
    }
  }

  private readonly collectors: (() => Promise<void>)[] = [];

  /** A fleet-wide gauge that another module fills in at each scrape (a failing read leaves it out). */
  fleetGauge(name: string, help: string, read: () => Promise<number | null>): void {
    const gauge = new Gauge({
      name,
      help: `${help}; fleet-wide: aggregate with max()`,
      labelNames: ['scope'] as const,
      registers: [this.registry],
    });
    this.collectors.push(async () => {
      const value = await read().catch(() => null);
      if (value === null) gauge.reset();
      else gauge.set({ scope: 'fleet' }, value);
    });
  }

  async render(): Promise<string> {
    this.readPool();
    await Promise.all([this.readQueues(), ...this.collectors.map((collect) => collect())]);
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private readPool(): void {
    const pool = pgPoolOf(this.dataSource);
    if (!pool) return;
    this.dbPool.set({ state: 'in_use' }, pool.totalCount - pool.idleCount);
    this.dbPool.set({ state: 'idle' }, pool.idleCount);
    this.dbPool.set({ state: 'waiting' }, pool.waitingCount);
    const max = (pool as { options?: { max?: unknown } }).options?.max;
    if (typeof max === 'number') this.dbPool.set({ state: 'max' }, max);
  }

  private async readQueues(): Promise<void> {
    try {
      for (const queue of (await this.depth.depths()).queues) {
        this.queueJobs.set({ queue: queue.name, state: 'waiting', scope: 'fleet' }, queue.waiting);
        this.queueJobs.set({ queue: queue.name, state: 'active', scope: 'fleet' }, queue.active);
        this.queueJobs.set({ queue: queue.name, state: 'delayed', scope: 'fleet' }, queue.delayed);
        this.queueJobs.set({ queue: queue.name, state: 'failed', scope: 'fleet' }, queue.failed);
        // A dead-letter queue's own row says the same as its work queue's dead_lettered: once is enough.
        if (!queue.name.endsWith(DEAD_LETTER_SUFFIX))
          this.queueJobs.set({ queue: queue.name, state: 'dead_lettered', scope: 'fleet' }, queue.deadLettered);
        this.queueOldestWaiting.set({ queue: queue.name, scope: 'fleet' }, (queue.oldestWaitingAgeMs ?? 0) / 1000);
      }
    } catch {
      // Redis away: the scrape still answers, without queue gauges (readiness says why).
      this.queueJobs.reset();
      this.queueOldestWaiting.reset();
    }
  }
}
