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

/** An order as this batch leaves it. */
interface OrderState {
  id: string;
  status: string;
  attempts: number | null;
  lastError: string | null;
  supplierOrderId: string | null;
  supplierStatus: string | null;
  stamp: StatusStamp | null;
  changed: boolean;
}

interface EventRow {
  orderId: string;
  kind: 'dispatch_attempt' | 'status_change' | 'merged';
  from: string | null;
  to: string | null;
  attempt: number;
  outcome: ResultOutcome;
  reason: string | null;
  at: string;
}

/**
 * Applies what dispatches did to the orders, a batch per transaction: COMPLETED (and linked to
 * the supplier's order), FAILED, or one more failed attempt. Only an order still PROCESSING
 * changes, so a result applied twice, or arriving after recovery re-sent the order, changes
 * nothing twice. Set-based like the message applier; only merges of EXTERNAL placeholders
 * (rare) take statements of their own.
 */
@Injectable()
export class DispatchResultApplier {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  apply(results: DispatchResultJob[]): Promise<ResultOutcome[]> {
    return this.dataSource.transaction((db) => this.applyIn(db, results));
  }

  private async applyIn(db: EntityManager, results: DispatchResultJob[]): Promise<ResultOutcome[]> {
    const orderIds = [...new Set(results.map((r) => r.orderId))];
    const supplierIds = [...new Set(results.map((r) => r.supplierOrderId).filter((id): id is string => id !== null))];
    // Our orders and the orders holding the supplier ids (EXTERNAL placeholders), locked in id order.
    const rows: LockedOrder[] = await db.query(
      `SELECT id, status, supplier_order_id, supplier_status, supplier_status_rank AS rank,
              (extract(epoch FROM supplier_status_at) * 1000)::bigint AS at_ms, supplier_status_born AS born
       FROM orders WHERE id = ANY($1::text[]) OR supplier_order_id = ANY($2::text[])
       ORDER BY id FOR UPDATE`,
      [orderIds, supplierIds],
    );
    const states = new Map<string, OrderState>(rows.map((row) => [row.id, stateOf(row)]));
    const holders = new Map(rows.filter((row) => row.supplier_order_id !== null).map((row) => [row.supplier_order_id as string, row.id]));
    const events: EventRow[] = [];
    const merges: { from: string; into: string }[] = [];
    const event = (result: DispatchResultJob, kind: EventRow['kind'], outcome: ResultOutcome, reason: string | null, from: string | null = null, to: string | null = null) =>
      events.push({ orderId: result.orderId, kind, from, to, attempt: result.attempt, outcome, reason, at: result.at });

    const outcomes = results.map((result): ResultOutcome => {
      const order = states.get(result.orderId);
      if (!order) throw new Error(`dispatch result for unknown order "${result.orderId}"`);
      if (result.outcome === 'retrying') {
        // Results are applied concurrently: the failed attempt before a success may land after it.
        event(result, 'dispatch_attempt', 'applied', result.error);
        if (order.status !== 'PROCESSING') return 'applied';
        Object.assign(order, { attempts: result.attempt, lastError: result.error, changed: true });
        return 'applied';
      }
      if (order.status !== 'PROCESSING') {
        event(result, 'dispatch_attempt', 'ignored', `result "${result.outcome}" arrived for an order already ${order.status}`);
        return 'ignored';
      }
      if (result.outcome === 'failed') {
        Object.assign(order, { status: 'FAILED', attempts: result.attempt, lastError: result.error, changed: true });
        event(result, 'status_change', 'applied', result.error, 'PROCESSING', 'FAILED');
        return 'applied';
      }
      const note = result.supplierOrderId ? this.link(order, result.supplierOrderId, states, holders, merges, (reason) => event(result, 'merged', 'applied', reason)) : null;
      Object.assign(order, { status: 'COMPLETED', attempts: result.attempt, lastError: null, changed: true });
      event(result, 'status_change', 'applied', note ?? result.error, 'PROCESSING', 'COMPLETED');
      return 'applied';
    });

    for (const merge of merges) {
      await db.query(`UPDATE order_events SET order_id = $2 WHERE order_id = $1`, [merge.from, merge.into]);
      await db.query(`DELETE FROM orders WHERE id = $1`, [merge.from]);
    }
    const changed = [...states.values()].filter((state) => state.changed);
    if (changed.length > 0) {
      await db.query(
        `UPDATE orders o
         SET status = c.status, attempts = COALESCE(c.attempts, o.attempts), last_error = c.last_error,
             lease_until = CASE WHEN c.status = 'PROCESSING' THEN o.lease_until ELSE NULL END,
             supplier_order_id = c.supplier_order_id, supplier_status = c.supplier_status,
             supplier_status_at = CASE WHEN c.at_ms IS NULL THEN NULL ELSE to_timestamp(c.at_ms / 1000.0) END,
             supplier_status_born = c.born, supplier_status_rank = c.rank, updated_at = now()
         FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::smallint[])
              AS c(id, status, attempts, last_error, supplier_order_id, supplier_status, at_ms, born, rank)
         WHERE o.id = c.id`,
        [
          changed.map((s) => s.id),
          changed.map((s) => s.status),
          changed.map((s) => s.attempts),
          changed.map((s) => s.lastError),
          changed.map((s) => s.supplierOrderId),
          changed.map((s) => s.supplierStatus),
          changed.map((s) => s.stamp?.occurredAt ?? null),
          changed.map((s) => s.stamp?.bornAt ?? null),
          changed.map((s) => s.stamp?.rank ?? null),
        ],
      );
    }
    await db.query(
      `INSERT INTO order_events (order_id, kind, source, from_status, to_status, attempt, outcome, reason, occurred_at)
       SELECT e.order_id, e.kind, 'dispatch', e.from_status, e.to_status, e.attempt, e.outcome, e.reason, e.at
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::timestamptz[])
            WITH ORDINALITY AS e(order_id, kind, from_status, to_status, attempt, outcome, reason, at, n)
       ORDER BY e.n`,
      [
        events.map((e) => e.orderId),
        events.map((e) => e.kind),
        events.map((e) => e.from),
        events.map((e) => e.to),
        events.map((e) => e.attempt),
        events.map((e) => e.outcome),
        events.map((e) => e.reason),
        events.map((e) => e.at),
      ],
    );
    return outcomes;
  }

  /**
   * Links our order to the supplier's order. 1688 messages that came first sit on an EXTERNAL
   * placeholder: its history moves to our order, with the newest supplier status, and it goes.
   * Returns a note when the link could not be made.
   */
  private link(
    order: OrderState,
    supplierOrderId: string,
    states: Map<string, OrderState>,
    holders: Map<string, string>,
    merges: { from: string; into: string }[],
    merged: (reason: string) => void,
  ): string | null {
    if (order.supplierOrderId === supplierOrderId) return null;
    if (order.supplierOrderId !== null) {
      return `the external API named supplier order ${supplierOrderId}, but the order is linked to ${order.supplierOrderId}; kept`;
    }
    const holderId = holders.get(supplierOrderId);
    const holder = holderId === undefined ? undefined : states.get(holderId);
    if (holder && holder.status !== 'EXTERNAL') return `supplier order ${supplierOrderId} is already linked to order "${holder.id}"; not linked`;
    if (holder) {
      if (holder.stamp && isNewerStatus(holder.stamp, order.stamp)) Object.assign(order, { supplierStatus: holder.supplierStatus, stamp: holder.stamp });
      // The placeholder goes before our order takes its supplier id (a unique key).
      merges.push({ from: holder.id, into: order.id });
      states.delete(holder.id);
      merged(`merged EXTERNAL order "${holder.id}" holding supplier order ${supplierOrderId}`);
    }
    order.supplierOrderId = supplierOrderId;
    holders.set(supplierOrderId, order.id);
    return null;
  }
}

function stateOf(row: LockedOrder): OrderState {
  return {
    id: row.id,
    status: row.status,
    attempts: null,
    lastError: null,
    supplierOrderId: row.supplier_order_id,
    supplierStatus: row.supplier_status,
    stamp: row.at_ms === null ? null : { occurredAt: Number(row.at_ms), bornAt: Number(row.born ?? 0), rank: row.rank ?? 0 },
    changed: false,
  };
}
