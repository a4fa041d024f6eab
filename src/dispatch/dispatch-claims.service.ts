import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/app-config.module.js';
import type { Db } from '../orders/repositories/db.js';
import { OrderHistoryRepository } from '../orders/repositories/order-history.repository.js';
import { OrdersRepository, type ClaimedOrder } from '../orders/repositories/orders.repository.js';
import { inSpan } from '../telemetry/tracing.js';
import { DISPATCH_ORDER_JOB, ORDER_DISPATCH_QUEUE, dispatchJobId, type DispatchOrderJob } from '../queues/order-dispatch.queue.js';

/**
 * Moves PENDING orders to PROCESSING under a lease and queues one dispatch job per order.
 * The claim commits before the jobs are queued: the other order (job first) could send an order
 * that a second claim would send again. When queuing fails, the orders go back to PENDING; when
 * even that fails, lease recovery queues them once their lease expires. Nothing is stranded.
 */
@Injectable()
export class DispatchClaimsService {
  private readonly logger = new Logger(DispatchClaimsService.name);

  constructor(
    private readonly orders: OrdersRepository,
    private readonly history: OrderHistoryRepository,
    @InjectQueue(ORDER_DISPATCH_QUEUE) private readonly dispatchQueue: Queue<DispatchOrderJob>,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Claims every PENDING order, a chunk per statement; returns how many were claimed. */
  async claimPending(): Promise<number> {
    if (!this.config.dispatchEnabled) return 0;
    let total = 0;
    for (;;) {
      const claimed = await this.claim({ limit: this.config.dispatchClaimBatch });
      total += claimed;
      if (claimed < this.config.dispatchClaimBatch) return total;
    }
  }

  /** Claims these orders if they are PENDING (right after they were created). */
  async claimIds(ids: string[]): Promise<number> {
    if (ids.length === 0 || !this.config.dispatchEnabled) return 0;
    let total = 0;
    for (let i = 0; i < ids.length; i += this.config.dispatchClaimBatch)
      total += await this.claim({ ids: ids.slice(i, i + this.config.dispatchClaimBatch) });
    return total;
  }

  /** Whether the order still waits for its dispatch; a re-run job of a finished order must not call again. */
  async isAwaitingDispatch(orderId: string): Promise<boolean> {
    return (await this.orders.processingAmong([orderId])).has(orderId);
  }

  /**
   * Sends a FAILED order again (an operator's retry from the dead-letter queue). Its finished job
   * goes first, so that the new job can take the order's job id (and its Idempotency-Key).
   */
  async retryFailed(orderId: string): Promise<boolean> {
    const previous = await this.dispatchQueue.getJob(dispatchJobId(orderId));
    if (previous && ['completed', 'failed'].includes(await previous.getState())) await previous.remove();
    const reopened = await this.orders.transaction(async (db) => {
      if (!(await this.orders.reopenFailed(db, orderId))) return false;
      await this.history.append(db, [
        {
          orderId,
          kind: 'status_change',
          fromStatus: 'FAILED',
          toStatus: 'PENDING',
          outcome: 'applied',
          reason: 'retried from the dead-letter queue',
        },
      ]);
      return true;
    });
    if (reopened) await this.claimIds([orderId]);
    return reopened;
  }

  /** Queues dispatch jobs for claimed (or recovered) orders, with the order id as job id. */
  async enqueue(orders: ClaimedOrder[], recovered = false): Promise<void> {
    if (orders.length === 0) return;
    await this.dispatchQueue.addBulk(
      orders.map((order) => ({
        name: DISPATCH_ORDER_JOB,
        data: { orderId: order.id, payloadJson: order.payloadJson, ...(recovered ? { recovered } : {}) },
        opts: { jobId: dispatchJobId(order.id), attempts: this.config.dispatchMaxAttempts },
      })),
    );
  }

  private claim(which: { ids: string[] } | { limit: number }): Promise<number> {
    return inSpan('claim orders', { 'ordersync.claim': 'ids' in which ? 'ids' : 'pending' }, async (span) => {
      const claimed = await this.claimNow(which);
      span.setAttribute('ordersync.claimed', claimed);
      return claimed;
    });
  }

  private async claimNow(which: { ids: string[] } | { limit: number }): Promise<number> {
    const claimed = await this.orders.transaction(async (db: Db) => {
      const rows = await this.orders.claim(db, this.config.dispatchLeaseMs, which);
      await this.history.append(
        db,
        rows.map((row) => ({ orderId: row.id, kind: 'status_change', fromStatus: 'PENDING', toStatus: 'PROCESSING', outcome: 'applied' })),
      );
      return rows;
    });
    try {
      await this.enqueue(claimed);
    } catch (error) {
      await this.giveBack(claimed, error);
      throw error;
    }
    return claimed.length;
  }

  /** Claimed orders whose jobs could not be queued go back to PENDING, for the next claim to take. */
  private async giveBack(claimed: ClaimedOrder[], cause: unknown): Promise<void> {
    const ids = claimed.map((order) => order.id);
    try {
      await this.orders.transaction(async (db) => {
        const returned = await this.orders.unclaim(db, ids);
        await this.history.append(
          db,
          returned.map((orderId) => ({
            orderId,
            kind: 'status_change',
            fromStatus: 'PROCESSING',
            toStatus: 'PENDING',
            outcome: 'applied',
            reason: `dispatch job not queued: ${(cause as Error).message}`,
          })),
        );
      });
      this.logger.warn({ msg: 'claimed orders could not be queued; back to PENDING', count: ids.length, err: (cause as Error).message });
    } catch (error) {
      this.logger.error({
        msg: 'claimed orders could not be queued nor given back; lease recovery will queue them',
        count: ids.length,
        err: (error as Error).message,
      });
    }
  }
}
