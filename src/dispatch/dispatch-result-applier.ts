import { Injectable } from '@nestjs/common';
import type { Db } from '../orders/repositories/db.js';
import { OrderHistoryRepository, type HistoryEntry } from '../orders/repositories/order-history.repository.js';
import { OrdersRepository, type DispatchState, type LockedOrder } from '../orders/repositories/orders.repository.js';
import { isNewerStatus } from '../orders/supplier-status.js';
import type { DispatchResultJob } from '../queues/dispatch-results.queue.js';

export type ResultOutcome = 'applied' | 'ignored';

/** An order as this batch leaves it. */
type OrderState = DispatchState & { changed: boolean; placeholderFor: LockedOrder['placeholderFor'] };

/**
 * Records what dispatches did on the orders, a batch per transaction: COMPLETED (and linked to
 * the supplier's order), FAILED, or one more failed attempt. Only an order still PROCESSING
 * changes, so a result applied twice, or arriving after recovery re-sent the order, changes
 * nothing twice. Merging an EXTERNAL placeholder (rare) takes statements of its own.
 */
@Injectable()
export class DispatchResultApplier {
  constructor(
    private readonly orders: OrdersRepository,
    private readonly history: OrderHistoryRepository,
  ) {}

  apply(results: DispatchResultJob[]): Promise<ResultOutcome[]> {
    return this.orders.transaction((db) => this.applyIn(db, results));
  }

  private async applyIn(db: Db, results: DispatchResultJob[]): Promise<ResultOutcome[]> {
    const orderIds = [...new Set(results.map((r) => r.orderId))];
    const supplierIds = [...new Set(results.map((r) => r.supplierOrderId).filter((id): id is string => id !== null))];
    // Our orders and the orders holding the supplier ids (EXTERNAL placeholders), locked in id order.
    const rows = await this.orders.lockForChange(db, orderIds, supplierIds);
    const states = new Map<string, OrderState>(rows.map((row) => [row.id, { ...row, attempts: null, lastError: null, changed: false }]));
    const holders = new Map(rows.filter((row) => row.supplierOrderId !== null).map((row) => [row.supplierOrderId as string, row.id]));
    const events: HistoryEntry[] = [];
    const merges: { from: string; into: string }[] = [];
    const event = (result: DispatchResultJob, entry: Omit<HistoryEntry, 'orderId' | 'source' | 'attempt' | 'occurredAtMs'>) =>
      events.push({ orderId: result.orderId, source: 'dispatch', attempt: result.attempt, occurredAtMs: Date.parse(result.at), ...entry });

    const outcomes = results.map((result): ResultOutcome => {
      const order = states.get(result.orderId);
      if (!order) throw new Error(`dispatch result for unknown order "${result.orderId}"`);
      if (result.outcome === 'retrying') {
        // Results are applied concurrently: the failed attempt before a success may land after it.
        event(result, { kind: 'dispatch_attempt', outcome: 'applied', reason: result.error });
        if (order.status !== 'PROCESSING') return 'applied';
        Object.assign(order, { attempts: result.attempt, lastError: result.error, changed: true });
        return 'applied';
      }
      if (order.status !== 'PROCESSING') {
        event(result, {
          kind: 'dispatch_attempt',
          outcome: 'ignored',
          reason: `result "${result.outcome}" arrived for an order already ${order.status}`,
        });
        return 'ignored';
      }
      if (result.outcome === 'failed') {
        Object.assign(order, { status: 'FAILED', attempts: result.attempt, lastError: result.error, changed: true });
        event(result, { kind: 'status_change', outcome: 'applied', reason: result.error, fromStatus: 'PROCESSING', toStatus: 'FAILED' });
        return 'applied';
      }
      const note = result.supplierOrderId
        ? this.link(order, result.supplierOrderId, states, holders, merges, (reason) =>
            event(result, { kind: 'merged', outcome: 'applied', reason }),
          )
        : null;
      Object.assign(order, { status: 'COMPLETED', attempts: result.attempt, lastError: null, changed: true });
      event(result, {
        kind: 'status_change',
        outcome: 'applied',
        reason: note ?? result.error,
        fromStatus: 'PROCESSING',
        toStatus: 'COMPLETED',
      });
      return 'applied';
    });

    for (const merge of merges) {
      await this.history.moveToOrder(db, merge.from, merge.into);
      await this.orders.delete(db, merge.from);
    }
    await this.orders.updateDispatchStates(
      db,
      [...states.values()].filter((state) => state.changed),
    );
    await this.history.append(db, events);
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
    if (holder && holder.status !== 'EXTERNAL')
      return `supplier order ${supplierOrderId} is already linked to order "${holder.id}"; not linked`;
    if (holder) {
      if (holder.stamp && isNewerStatus(holder.stamp, order.stamp))
        Object.assign(order, { supplierStatus: holder.supplierStatus, stamp: holder.stamp });
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
