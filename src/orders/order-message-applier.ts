import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import type { ApplyMessageJob } from '../queues/order-events.queue.js';
import { planSupplierUpdates, type CurrentSupplierStatus, type IncomingChange } from './supplier-status-plan.js';

export type ApplyOutcome = 'applied' | 'ignored' | 'duplicate';

/** The id of the EXTERNAL order that holds a supplier order's messages until one of ours claims it. */
export function externalOrderId(source: string, supplierOrderId: string): string {
  return `${source}-${supplierOrderId}`;
}

interface OrderRow {
  id: string;
  supplier_order_id: string | null;
  supplier_status: string | null;
  at_ms: string | null;
  born: string | null;
  rank: number | null;
}

/**
 * Applies webhook messages to orders, a whole batch per transaction with set-based SQL:
 * one statement each to dedupe, create EXTERNAL orders, lock, update and record history.
 */
@Injectable()
export class OrderMessageApplier {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async apply(jobs: ApplyMessageJob[]): Promise<ApplyOutcome[]> {
    return this.dataSource.transaction((db) => this.applyIn(db, jobs));
  }

  private async applyIn(db: EntityManager, jobs: ApplyMessageJob[]): Promise<ApplyOutcome[]> {
    const keyOf = (job: ApplyMessageJob) => `${job.source}\u0000${job.messageId}`;
    // The same message twice in one batch: the inbox keeps the first.
    const unique = [...new Map(jobs.map((job) => [keyOf(job), job])).values()];
    const fresh: { source: string; message_id: string }[] = await db.query(
      `INSERT INTO inbox_messages (source, message_id, topic, body, received_at, outcome, reason)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[])
       ON CONFLICT DO NOTHING
       RETURNING source, message_id`,
      [
        unique.map((job) => job.source),
        unique.map((job) => job.messageId),
        unique.map((job) => job.topic),
        unique.map((job) => job.body),
        unique.map((job) => job.receivedAt),
        unique.map((job) => (job.ignoredReason ? 'ignored' : 'applied')),
        unique.map((job) => job.ignoredReason),
      ],
    );
    const freshKeys = new Set(fresh.map((row) => `${row.source}\u0000${row.message_id}`));
    const freshJobs = unique.filter((job) => freshKeys.has(keyOf(job)));
    const changes = freshJobs.flatMap((job) => job.changes.map((change) => ({ job, change })));
    if (changes.length > 0) await this.applyChanges(db, changes);

    const seen = new Set<string>();
    return jobs.map((job) => {
      const key = keyOf(job);
      if (!freshKeys.has(key) || seen.has(key)) return 'duplicate';
      seen.add(key);
      return job.ignoredReason ? 'ignored' : 'applied';
    });
  }

  private async applyChanges(db: EntityManager, changes: { job: ApplyMessageJob; change: ApplyMessageJob['changes'][number] }[]): Promise<void> {
    // Orders the messages name but nobody has yet: EXTERNAL placeholders, created in id order
    // so that concurrent batches take their locks in the same order.
    const placeholders = new Map<string, string | null>();
    for (const { job, change } of changes) {
      const id = change.orderId ?? (change.supplierOrderId ? externalOrderId(job.source, change.supplierOrderId) : null);
      if (id && !placeholders.has(id)) placeholders.set(id, change.supplierOrderId);
    }
    const placeholderIds = [...placeholders.keys()].sort();
    await db.query(
      `INSERT INTO orders (id, status, supplier_order_id)
       SELECT p.id, 'EXTERNAL', p.supplier_order_id
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS p(id, supplier_order_id, n)
       WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = p.id)
         AND (p.supplier_order_id IS NULL OR NOT EXISTS (SELECT 1 FROM orders o WHERE o.supplier_order_id = p.supplier_order_id))
       ORDER BY p.n
       ON CONFLICT DO NOTHING`,
      [placeholderIds, placeholderIds.map((id) => placeholders.get(id) ?? null)],
    );

    const orderIds = [...new Set(changes.map(({ change }) => change.orderId).filter((id): id is string => id !== null))];
    const supplierIds = [...new Set(changes.map(({ change }) => change.supplierOrderId).filter((id): id is string => id !== null))];
    const rows: OrderRow[] = await db.query(
      `SELECT id, supplier_order_id, supplier_status, supplier_status_rank AS rank,
              (extract(epoch FROM supplier_status_at) * 1000)::bigint AS at_ms, supplier_status_born AS born
       FROM orders WHERE id = ANY($1::text[]) OR supplier_order_id = ANY($2::text[])
       ORDER BY id FOR UPDATE`,
      [orderIds, supplierIds],
    );
    const byId = new Map(rows.map((row) => [row.id, row]));
    const bySupplierId = new Map(rows.filter((row) => row.supplier_order_id).map((row) => [row.supplier_order_id as string, row]));

    const incoming: IncomingChange[] = [];
    for (const { job, change } of changes) {
      const row = (change.orderId ? byId.get(change.orderId) : undefined) ?? (change.supplierOrderId ? bySupplierId.get(change.supplierOrderId) : undefined);
      if (!row) throw new Error(`no order for message ${job.source}/${job.messageId} after creating placeholders`);
      incoming.push({
        orderId: row.id,
        source: job.source,
        messageId: job.messageId,
        topic: job.topic,
        status: change.status,
        occurredAt: Date.parse(change.occurredAt),
        bornAt: change.bornAt,
      });
    }
    const current = new Map<string, CurrentSupplierStatus>(
      rows.map((row) => [
        row.id,
        {
          orderId: row.id,
          status: row.supplier_status,
          stamp: row.at_ms === null ? null : { occurredAt: Number(row.at_ms), bornAt: Number(row.born ?? 0), rank: row.rank ?? 0 },
        },
      ]),
    );
    const plan = planSupplierUpdates(current, incoming);

    if (plan.updates.length > 0) {
      await db.query(
        `UPDATE orders o
         SET supplier_status = u.status, supplier_status_at = to_timestamp(u.at_ms / 1000.0), supplier_status_born = u.born,
             supplier_status_rank = u.rank, updated_at = now()
         FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::smallint[]) AS u(id, status, at_ms, born, rank)
         WHERE o.id = u.id`,
        [
          plan.updates.map((u) => u.orderId),
          plan.updates.map((u) => u.status),
          plan.updates.map((u) => u.stamp.occurredAt),
          plan.updates.map((u) => u.stamp.bornAt),
          plan.updates.map((u) => u.stamp.rank),
        ],
      );
    }
    await db.query(
      `INSERT INTO order_events (order_id, kind, source, message_id, topic, supplier_status, occurred_at, outcome, reason)
       SELECT e.order_id, 'supplier_message', e.source, e.message_id, e.topic, e.status, to_timestamp(e.at_ms / 1000.0), e.outcome, e.reason
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[])
            WITH ORDINALITY AS e(order_id, source, message_id, topic, status, at_ms, outcome, reason, n)
       ORDER BY e.n`,
      [
        plan.events.map((e) => e.orderId),
        plan.events.map((e) => e.source),
        plan.events.map((e) => e.messageId),
        plan.events.map((e) => e.topic),
        plan.events.map((e) => e.status),
        plan.events.map((e) => e.occurredAt),
        plan.events.map((e) => e.outcome),
        plan.events.map((e) => e.reason),
      ],
    );
  }
}
