import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { Db } from './db.js';

export type HistoryKind = 'supplier_message' | 'status_change' | 'dispatch_attempt' | 'merged';

/** One line of an order's history: a status change, a dispatch call, a message applied or ignored. */
export interface HistoryEntry {
  orderId: string;
  kind: HistoryKind;
  outcome: 'applied' | 'ignored';
  source?: string | null;
  messageId?: string | null;
  topic?: string | null;
  supplierStatus?: string | null;
  /** When it happened where it happened (the supplier's time for messages), epoch ms. */
  occurredAtMs?: number | null;
  fromStatus?: string | null;
  toStatus?: string | null;
  attempt?: number | null;
  reason?: string | null;
}

export interface HistoryView {
  id: string;
  kind: string;
  source: string | null;
  messageId: string | null;
  topic: string | null;
  supplierStatus: string | null;
  occurredAt: string | null;
  fromStatus: string | null;
  toStatus: string | null;
  attempt: number | null;
  outcome: string;
  reason: string | null;
  recordedAt: string;
}

/** The `order_history` table: appended to in batches, read per order, oldest first. */
@Injectable()
export class OrderHistoryRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Appends entries in the order given (their ids keep that order). */
  async append(db: Db, entries: HistoryEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const column = <K extends keyof HistoryEntry>(key: K) => entries.map((e) => e[key] ?? null);
    await db.query(
      `INSERT INTO order_history (order_id, kind, outcome, source, message_id, topic, supplier_status, occurred_at, from_status, to_status, attempt, reason)
       SELECT e.order_id, e.kind, e.outcome, e.source, e.message_id, e.topic, e.supplier_status,
              CASE WHEN e.at_ms IS NULL THEN NULL ELSE to_timestamp(e.at_ms / 1000.0) END, e.from_status, e.to_status, e.attempt, e.reason
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[], $10::text[], $11::int[], $12::text[])
            WITH ORDINALITY AS e(order_id, kind, outcome, source, message_id, topic, supplier_status, at_ms, from_status, to_status, attempt, reason, n)
       ORDER BY e.n`,
      [
        column('orderId'),
        column('kind'),
        column('outcome'),
        column('source'),
        column('messageId'),
        column('topic'),
        column('supplierStatus'),
        column('occurredAtMs'),
        column('fromStatus'),
        column('toStatus'),
        column('attempt'),
        column('reason'),
      ],
    );
  }

  /** Gives one order's history to another (an EXTERNAL placeholder merged into our order). */
  async moveToOrder(db: Db, from: string, into: string): Promise<void> {
    await db.query(`UPDATE order_history SET order_id = $2 WHERE order_id = $1`, [from, into]);
  }

  async listForOrder(orderId: string): Promise<HistoryView[]> {
    return this.dataSource.query(
      `SELECT id::text AS id, kind, source, message_id AS "messageId", topic, supplier_status AS "supplierStatus",
              occurred_at AS "occurredAt", from_status AS "fromStatus", to_status AS "toStatus", attempt, outcome, reason,
              created_at AS "recordedAt"
       FROM order_history WHERE order_id = $1 ORDER BY order_history.id`, // the bigint, not the text alias
      [orderId],
    );
  }
}
