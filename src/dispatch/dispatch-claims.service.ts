import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Queue } from 'bullmq';
import type { DataSource } from 'typeorm';
import { returningRows } from '../common/sql.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import {
  DISPATCH_ORDER_JOB,
  DISPATCH_RESULTS_QUEUE,
  ORDER_DISPATCH_QUEUE,
  dispatchJobId,
  type DispatchOrderJob,
  type DispatchResultJob,
} from '../queues/order-dispatch.queue.js';

interface ClaimedRow {
  id: string;
  payload: unknown;
}

/** A job that is still going to run (or running) for an order. */
const LIVE_JOB_STATES = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);

/**
 * Moves PENDING orders to PROCESSING under a lease and queues one dispatch job per order.
 * The claim commits before the jobs are queued: a crash in between leaves orders PROCESSING
 * with no job, which recovery finds when their lease expires; the other order (job first)
 * could send an order that a second claim would send again.
 */
@Injectable()
export class DispatchClaimsService {
  private readonly logger = new Logger(DispatchClaimsService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectQueue(ORDER_DISPATCH_QUEUE) private readonly dispatchQueue: Queue<DispatchOrderJob>,
    @InjectQueue(DISPATCH_RESULTS_QUEUE) private readonly resultsQueue: Queue<DispatchResultJob>,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Claims every PENDING order, a chunk per statement; returns how many were claimed. */
  async claimPending(): Promise<number> {
    if (!this.config.dispatchEnabled) return 0;
    let total = 0;
    for (;;) {
      const claimed = await this.claim(`status = 'PENDING' ORDER BY created_at, id LIMIT $2`, [this.config.dispatchClaimBatch]);
      total += claimed;
      if (claimed < this.config.dispatchClaimBatch) return total;
    }
  }

  /** Claims these orders if they are PENDING (right after they were created). */
  async claimIds(ids: string[]): Promise<number> {
    if (ids.length === 0 || !this.config.dispatchEnabled) return 0;
    return this.claim(`status = 'PENDING' AND id = ANY($2::text[]) ORDER BY id`, [ids]);
  }

  /** Whether the order still waits for its dispatch; a re-queued job of a finished order must not call again. */
  async isAwaitingDispatch(orderId: string): Promise<boolean> {
    const rows: unknown[] = await this.dataSource.query(`SELECT 1 FROM orders WHERE id = $1 AND status = 'PROCESSING'`, [orderId]);
    return rows.length > 0;
  }

  /** Sends a FAILED order again (an operator's retry from the dead-letter queue). */
  async retryFailed(orderId: string): Promise<boolean> {
    const reopened: { id: string }[] = await this.dataSource.transaction(async (db) => {
      const rows = await returningRows<{ id: string }>(
        db,
        `UPDATE orders SET status = 'PENDING', updated_at = now() WHERE id = $1 AND status = 'FAILED' RETURNING id`,
        [orderId],
      );
      if (rows.length > 0) {
        await db.query(
          `INSERT INTO order_events (order_id, kind, from_status, to_status, outcome, reason) VALUES ($1, 'status_change', 'FAILED', 'PENDING', 'applied', 'retried from the dead-letter queue')`,
          [orderId],
        );
      }
      return rows;
    });
    if (reopened.length === 0) return false;
    await this.claimIds([orderId]);
    return true;
  }

  /**
   * Finds PROCESSING orders whose lease expired. One whose job (or unapplied result) is still
   * alive only gets a new lease; one whose job is gone is queued again, with the same order id
   * and so the same Idempotency-Key.
   */
  async recoverExpired(): Promise<{ extended: number; requeued: number }> {
    const expired = await returningRows<ClaimedRow>(
      this.dataSource,
      `WITH expired AS (
         SELECT id FROM orders WHERE status = 'PROCESSING' AND lease_until < now()
         ORDER BY lease_until LIMIT $2 FOR UPDATE SKIP LOCKED)
       UPDATE orders o SET lease_until = now() + $1 * interval '1 millisecond'
       FROM expired WHERE o.id = expired.id
       RETURNING o.id, o.payload`,
      [this.config.dispatchLeaseMs, this.config.dispatchClaimBatch],
    );
    if (expired.length === 0) return { extended: 0, requeued: 0 };
    // Orders whose call was answered and whose result is waiting to be applied.
    const pendingResults = await this.resultsQueue.getJobs(['waiting', 'active', 'delayed', 'prioritized'], 0, -1);
    const answered = new Set(pendingResults.filter((result) => result.data.outcome !== 'retrying').map((result) => result.data.orderId));
    const lost: ClaimedRow[] = [];
    for (const order of expired) {
      if (answered.has(order.id)) continue;
      const job = await this.dispatchQueue.getJob(dispatchJobId(order.id));
      if (job && LIVE_JOB_STATES.has(await job.getState())) continue;
      // A finished job of an earlier round would block the job id; its result is already known.
      if (job) await job.remove();
      lost.push(order);
    }
    await this.enqueue(lost, true);
    if (lost.length > 0) this.logger.warn({ msg: 're-queued orders whose dispatch job was lost', count: lost.length, orderIds: lost.slice(0, 20).map((o) => o.id) });
    return { extended: expired.length - lost.length, requeued: lost.length };
  }

  private async claim(where: string, params: unknown[]): Promise<number> {
    const claimed = await this.dataSource.transaction(async (db) => {
      const rows = await returningRows<ClaimedRow>(
        db,
        `WITH picked AS (SELECT id FROM orders WHERE ${where} FOR UPDATE SKIP LOCKED)
         UPDATE orders o SET status = 'PROCESSING', lease_until = now() + $1 * interval '1 millisecond', last_error = NULL, updated_at = now()
         FROM picked WHERE o.id = picked.id
         RETURNING o.id, o.payload`,
        [this.config.dispatchLeaseMs, ...params],
      );
      if (rows.length > 0) {
        await db.query(
          `INSERT INTO order_events (order_id, kind, from_status, to_status, outcome)
           SELECT id, 'status_change', 'PENDING', 'PROCESSING', 'applied' FROM unnest($1::text[]) AS c(id)`,
          [rows.map((row) => row.id)],
        );
      }
      return rows;
    });
    await this.enqueue(claimed);
    return claimed.length;
  }

  private async enqueue(orders: ClaimedRow[], recovered = false): Promise<void> {
    if (orders.length === 0) return;
    await this.dispatchQueue.addBulk(
      orders.map((order) => ({
        name: DISPATCH_ORDER_JOB,
        data: { orderId: order.id, payload: order.payload, ...(recovered ? { recovered } : {}) },
        opts: { jobId: dispatchJobId(order.id), attempts: this.config.dispatchMaxAttempts },
      })),
    );
  }
}
