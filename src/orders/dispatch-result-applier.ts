import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import type { DispatchResultJob } from '../queues/order-dispatch.queue.js';
import { isNewerStatus, type StatusStamp } from './supplier-status.js';

export type ResultOutcome = 'applied' | 'ignored';

interface LockedOrder {
  id: string;
  status: string;
  supplier_order_id: string | null;
  supplier_status: string | null;
  at_ms: string | null;
  born: string | null;
  rank: number | null;
}

/**
 * Applies what a dispatch did to the order: COMPLETED (and linked to the supplier's order),
 * FAILED, or one more failed attempt. Only an order still PROCESSING changes, so a result
 * applied twice, or arriving after recovery re-sent the order, changes nothing twice.
 */
@Injectable()
export class DispatchResultApplier {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  apply(result: DispatchResultJob): Promise<ResultOutcome> {
    return this.dataSource.transaction((db) => this.applyIn(db, result));
  }

  private async applyIn(db: EntityManager, result: DispatchResultJob): Promise<ResultOutcome> {
    // Our order and the order holding the supplier's id (an EXTERNAL placeholder), locked in id order.
    const rows: LockedOrder[] = await db.query(
      `SELECT id, status, supplier_order_id, supplier_status, supplier_status_rank AS rank,
              (extract(epoch FROM supplier_status_at) * 1000)::bigint AS at_ms, supplier_status_born AS born
       FROM orders WHERE id = $1 OR ($2::text IS NOT NULL AND supplier_order_id = $2)
       ORDER BY id FOR UPDATE`,
      [result.orderId, result.supplierOrderId],
    );
    const order = rows.find((row) => row.id === result.orderId);
    if (!order) throw new Error(`dispatch result for unknown order "${result.orderId}"`);
    if (result.outcome === 'retrying' && order.status !== 'PROCESSING') {
      // Results are applied concurrently: the failed attempt before a success may land after it.
      await this.event(db, result, 'dispatch_attempt', { outcome: 'applied', reason: result.error });
      return 'applied';
    }
    if (order.status !== 'PROCESSING') {
      await this.event(db, result, 'dispatch_attempt', { outcome: 'ignored', reason: `result "${result.outcome}" arrived for an order already ${order.status}` });
      return 'ignored';
    }

    if (result.outcome === 'retrying') {
      await db.query(`UPDATE orders SET attempts = $2, last_error = $3, updated_at = now() WHERE id = $1`, [order.id, result.attempt, result.error]);
      await this.event(db, result, 'dispatch_attempt', { outcome: 'applied', reason: result.error });
      return 'applied';
    }

    if (result.outcome === 'failed') {
      await db.query(
        `UPDATE orders SET status = 'FAILED', attempts = $2, last_error = $3, lease_until = NULL, updated_at = now() WHERE id = $1`,
        [order.id, result.attempt, result.error],
      );
      await this.event(db, result, 'status_change', { outcome: 'applied', reason: result.error, from: 'PROCESSING', to: 'FAILED' });
      return 'applied';
    }

    const note = result.supplierOrderId ? await this.link(db, order, rows, result) : null;
    await db.query(
      `UPDATE orders SET status = 'COMPLETED', attempts = $2, last_error = NULL, lease_until = NULL, updated_at = now() WHERE id = $1`,
      [order.id, result.attempt],
    );
    await this.event(db, result, 'status_change', { outcome: 'applied', reason: note ?? result.error, from: 'PROCESSING', to: 'COMPLETED' });
    return 'applied';
  }

  /**
   * Links our order to the supplier's order. 1688 messages that came first sit on an EXTERNAL
   * placeholder: its history moves to our order, with the newest supplier status, and it goes.
   * Returns a note when the link could not be made.
   */
  private async link(db: EntityManager, order: LockedOrder, rows: LockedOrder[], result: DispatchResultJob): Promise<string | null> {
    const supplierOrderId = result.supplierOrderId as string;
    if (order.supplier_order_id === supplierOrderId) return null;
    if (order.supplier_order_id !== null) {
      return `the external API named supplier order ${supplierOrderId}, but the order is linked to ${order.supplier_order_id}; kept`;
    }
    const holder = rows.find((row) => row.id !== order.id && row.supplier_order_id === supplierOrderId);
    if (holder && holder.status !== 'EXTERNAL') {
      return `supplier order ${supplierOrderId} is already linked to order "${holder.id}"; not linked`;
    }
    let status = { status: order.supplier_status, stamp: stampOf(order) };
    if (holder) {
      await db.query(`UPDATE order_events SET order_id = $2 WHERE order_id = $1`, [holder.id, order.id]);
      const held = stampOf(holder);
      if (held && isNewerStatus(held, status.stamp)) status = { status: holder.supplier_status, stamp: held };
      await db.query(`DELETE FROM orders WHERE id = $1`, [holder.id]);
      await this.event(db, result, 'merged', { outcome: 'applied', reason: `merged EXTERNAL order "${holder.id}" holding supplier order ${supplierOrderId}` });
    }
    await db.query(
      `UPDATE orders SET supplier_order_id = $2, supplier_status = $3,
              supplier_status_at = CASE WHEN $4::bigint IS NULL THEN NULL ELSE to_timestamp($4::bigint / 1000.0) END,
              supplier_status_born = $5, supplier_status_rank = $6
       WHERE id = $1`,
      [order.id, supplierOrderId, status.status, status.stamp?.occurredAt ?? null, status.stamp?.bornAt ?? null, status.stamp?.rank ?? null],
    );
    return null;
  }

  private async event(
    db: EntityManager,
    result: DispatchResultJob,
    kind: 'dispatch_attempt' | 'status_change' | 'merged',
    detail: { outcome: 'applied' | 'ignored'; reason: string | null; from?: string; to?: string },
  ): Promise<void> {
    await db.query(
      `INSERT INTO order_events (order_id, kind, source, from_status, to_status, attempt, outcome, reason, occurred_at)
       VALUES ($1, $2, 'dispatch', $3, $4, $5, $6, $7, $8)`,
      [result.orderId, kind, detail.from ?? null, detail.to ?? null, result.attempt, detail.outcome, detail.reason, result.at],
    );
  }
}

function stampOf(row: LockedOrder): StatusStamp | null {
  if (row.at_ms === null) return null;
  return { occurredAt: Number(row.at_ms), bornAt: Number(row.born ?? 0), rank: row.rank ?? 0 };
}
