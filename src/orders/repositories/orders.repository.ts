import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { StatusStamp } from '../supplier-status.js';
import { returningRows, type Db } from './db.js';

/** Columns every order read selects; `cursor_ts` keeps created_at's microseconds for keyset paging. */
const ORDER_COLUMNS = `id, status, payload::text AS payload_json, supplier_order_id, supplier_status, supplier_status_at, attempts, last_error,
  created_at, updated_at, created_at::text AS cursor_ts`;

/** An order row as reads give it; the payload is JSON text so that its numbers keep every digit. */
export interface OrderRow {
  id: string;
  status: string;
  payload_json: string | null;
  supplier_order_id: string | null;
  supplier_status: string | null;
  supplier_status_at: Date | null;
  attempts: number;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
  cursor_ts: string;
}

/** An order locked for a change of its supplier or dispatch state. */
export interface LockedOrder {
  id: string;
  status: string;
  placeholderFor: 'order' | 'supplier_order' | null;
  supplierOrderId: string | null;
  supplierStatus: string | null;
  stamp: StatusStamp | null;
}

export interface OrderFilter {
  status?: string;
  supplierOrderId?: string;
  supplierStatus?: string;
  updatedSince?: string;
  after?: { createdAt: string; id: string };
  limit: number;
}

export interface ClaimedOrder {
  id: string;
  payloadJson: string;
}

export interface SupplierStatusUpdate {
  orderId: string;
  status: string;
  stamp: StatusStamp;
}

/** An order's dispatch and supplier state as a batch of dispatch results leaves it. */
export interface DispatchState {
  id: string;
  status: string;
  attempts: number | null;
  lastError: string | null;
  supplierOrderId: string | null;
  supplierStatus: string | null;
  stamp: StatusStamp | null;
}

export interface Placeholder {
  id: string;
  supplierOrderId: string | null;
  placeholderFor: 'order' | 'supplier_order';
}

/**
 * The `orders` table. Every statement on it is here; the order domain and dispatch decide what
 * to change, this says how, set-based (`unnest`) wherever a batch is involved.
 */
@Injectable()
export class OrdersRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  transaction<T>(work: (db: Db) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  /**
   * Creates PENDING orders; an EXTERNAL placeholder named by our order id (a generic webhook
   * came first) is taken over with its history. Returns the ids created.
   */
  async insertPending(db: Db, orders: { id: string; payloadJson: string }[]): Promise<string[]> {
    const rows: { id: string }[] = await db.query(
      `INSERT INTO orders (id, status, payload)
       SELECT id, 'PENDING', payload FROM unnest($1::text[], $2::jsonb[]) AS i(id, payload)
       ON CONFLICT (id) DO UPDATE SET status = 'PENDING', payload = EXCLUDED.payload, placeholder_for = NULL, updated_at = now()
         WHERE orders.status = 'EXTERNAL' AND orders.placeholder_for = 'order'
       RETURNING id`,
      [orders.map((o) => o.id), orders.map((o) => o.payloadJson)],
    );
    return rows.map((row) => row.id);
  }

  /** Orders by id, each with whether its payload equals the one given (jsonb equality: numbers by value). */
  async findWithPayloadMatch(db: Db, orders: { id: string; payloadJson: string }[]): Promise<(OrderRow & { same_payload: boolean })[]> {
    return db.query(
      `SELECT ${ORDER_COLUMNS}, payload = i.sent_payload AS same_payload
       FROM unnest($1::text[], $2::jsonb[]) AS i(id, sent_payload) JOIN orders USING (id)`,
      [orders.map((o) => o.id), orders.map((o) => o.payloadJson)],
    );
  }

  /** Placeholders of supplier orders (1688 messages) among these ids: a new order of ours may not take them over. */
  async supplierPlaceholdersAmong(db: Db, ids: string[]): Promise<string[]> {
    const rows: { id: string }[] = await db.query(
      `SELECT id FROM orders WHERE id = ANY($1::text[]) AND placeholder_for = 'supplier_order' FOR UPDATE`,
      [ids],
    );
    return rows.map((row) => row.id);
  }

  /** Moves an order to another id; its history follows (ON UPDATE CASCADE). */
  async rename(db: Db, from: string, to: string): Promise<void> {
    await db.query(`UPDATE orders SET id = $2, updated_at = now() WHERE id = $1`, [from, to]);
  }

  /** Which of these ids are taken. */
  async existingIds(db: Db, ids: string[]): Promise<Set<string>> {
    const rows: { id: string }[] = await db.query(`SELECT id FROM orders WHERE id = ANY($1::text[])`, [ids]);
    return new Set(rows.map((row) => row.id));
  }

  async get(id: string): Promise<OrderRow | null> {
    const rows: OrderRow[] = await this.dataSource.query(`SELECT ${ORDER_COLUMNS} FROM orders WHERE id = $1`, [id]);
    return rows[0] ?? null;
  }

  async exists(id: string): Promise<boolean> {
    const rows: unknown[] = await this.dataSource.query(`SELECT 1 FROM orders WHERE id = $1`, [id]);
    return rows.length > 0;
  }

  /** Keyset pagination over (created_at, id): stable while orders are added or updated. */
  async list(filter: OrderFilter): Promise<OrderRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, ...values: unknown[]) => {
      let text = sql;
      for (const value of values) {
        params.push(value);
        text = text.replace('?', `$${params.length}`);
      }
      where.push(text);
    };
    if (filter.status) add('status = ?', filter.status);
    if (filter.supplierOrderId) add('supplier_order_id = ?', filter.supplierOrderId);
    if (filter.supplierStatus) add('supplier_status = ?', filter.supplierStatus);
    if (filter.updatedSince) add('updated_at >= ?::timestamptz', filter.updatedSince);
    if (filter.after) add('(created_at, id) > (?::timestamptz, ?)', filter.after.createdAt, filter.after.id);
    params.push(filter.limit);
    return this.dataSource.query(
      `SELECT ${ORDER_COLUMNS} FROM orders ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY created_at, id LIMIT $${params.length}`,
      params,
    );
  }

  /**
   * Locks our orders by id and the orders holding these supplier ids, in id order (so that
   * concurrent batches take their locks in the same order), with their supplier status stamps.
   */
  async lockForChange(db: Db, ids: string[], supplierOrderIds: string[]): Promise<LockedOrder[]> {
    const rows: {
      id: string;
      status: string;
      placeholder_for: LockedOrder['placeholderFor'];
      supplier_order_id: string | null;
      supplier_status: string | null;
      at_ms: string | null;
      born: string | null;
      rank: number | null;
    }[] = await db.query(
      `SELECT id, status, placeholder_for, supplier_order_id, supplier_status, supplier_status_rank AS rank,
              (extract(epoch FROM supplier_status_at) * 1000)::bigint AS at_ms, supplier_status_born AS born
       FROM orders WHERE id = ANY($1::text[]) OR supplier_order_id = ANY($2::text[])
       ORDER BY id FOR UPDATE`,
      [ids, supplierOrderIds],
    );
    return rows.map((row) => ({
      id: row.id,
      status: row.status,
      placeholderFor: row.placeholder_for,
      supplierOrderId: row.supplier_order_id,
      supplierStatus: row.supplier_status,
      stamp: row.at_ms === null ? null : { occurredAt: Number(row.at_ms), bornAt: Number(row.born ?? 0), rank: row.rank ?? 0 },
    }));
  }

  /** EXTERNAL placeholders for orders messages name that nobody has yet; an id or supplier id already held is skipped. */
  async insertPlaceholders(db: Db, placeholders: Placeholder[]): Promise<void> {
    if (placeholders.length === 0) return;
    const sorted = [...placeholders].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    await db.query(
      `INSERT INTO orders (id, status, supplier_order_id, placeholder_for)
       SELECT p.id, 'EXTERNAL', p.supplier_order_id, p.placeholder_for
       FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS p(id, supplier_order_id, placeholder_for, n)
       WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = p.id)
         -- No "IS NULL OR": it kept the planner from an anti-join (100,000 index entries hashed per
         -- batch); a NULL supplier id matches nothing, so NOT EXISTS alone says the same.
         AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.supplier_order_id = p.supplier_order_id)
       ORDER BY p.n
       ON CONFLICT DO NOTHING`,
      [sorted.map((p) => p.id), sorted.map((p) => p.supplierOrderId), sorted.map((p) => p.placeholderFor)],
    );
  }

  async updateSupplierStatuses(db: Db, updates: SupplierStatusUpdate[]): Promise<void> {
    if (updates.length === 0) return;
    await db.query(
      `UPDATE orders o
       SET supplier_status = u.status, supplier_status_at = to_timestamp(u.at_ms / 1000.0), supplier_status_born = u.born,
           supplier_status_rank = u.rank, updated_at = now()
       FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::smallint[]) AS u(id, status, at_ms, born, rank)
       WHERE o.id = u.id`,
      [
        updates.map((u) => u.orderId),
        updates.map((u) => u.status),
        updates.map((u) => u.stamp.occurredAt),
        updates.map((u) => u.stamp.bornAt),
        updates.map((u) => u.stamp.rank),
      ],
    );
  }

  /** Writes what a batch of dispatch results decided; the lease goes with PROCESSING. */
  async updateDispatchStates(db: Db, states: DispatchState[]): Promise<void> {
    if (states.length === 0) return;
    await db.query(
      `UPDATE orders o
       SET status = c.status, attempts = COALESCE(c.attempts, o.attempts), last_error = c.last_error,
           lease_until = CASE WHEN c.status = 'PROCESSING' THEN o.lease_until ELSE NULL END,
           placeholder_for = NULL,
           supplier_order_id = c.supplier_order_id, supplier_status = c.supplier_status,
           supplier_status_at = CASE WHEN c.at_ms IS NULL THEN NULL ELSE to_timestamp(c.at_ms / 1000.0) END,
           supplier_status_born = c.born, supplier_status_rank = c.rank, updated_at = now()
       FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::smallint[])
            AS c(id, status, attempts, last_error, supplier_order_id, supplier_status, at_ms, born, rank)
       WHERE o.id = c.id`,
      [
        states.map((s) => s.id),
        states.map((s) => s.status),
        states.map((s) => s.attempts),
        states.map((s) => s.lastError),
        states.map((s) => s.supplierOrderId),
        states.map((s) => s.supplierStatus),
        states.map((s) => s.stamp?.occurredAt ?? null),
        states.map((s) => s.stamp?.bornAt ?? null),
        states.map((s) => s.stamp?.rank ?? null),
      ],
    );
  }

  async delete(db: Db, id: string): Promise<void> {
    await db.query(`DELETE FROM orders WHERE id = $1`, [id]);
  }

  /** Moves PENDING orders (these, or the oldest `limit`) to PROCESSING under a lease, skipping rows others hold. */
  async claim(db: Db, leaseMs: number, which: { ids: string[] } | { limit: number }): Promise<ClaimedOrder[]> {
    const [where, param] =
      'ids' in which
        ? [`status = 'PENDING' AND id = ANY($2::text[]) ORDER BY id`, which.ids]
        : [`status = 'PENDING' ORDER BY created_at, id LIMIT $2`, which.limit];
    const rows = await returningRows<{ id: string; payload_json: string }>(
      db,
      `WITH picked AS (SELECT id FROM orders WHERE ${where} FOR UPDATE SKIP LOCKED)
       UPDATE orders o SET status = 'PROCESSING', lease_until = now() + $1 * interval '1 millisecond', last_error = NULL, updated_at = now()
       FROM picked WHERE o.id = picked.id
       RETURNING o.id, o.payload::text AS payload_json`,
      [leaseMs, param],
    );
    return rows.map((row) => ({ id: row.id, payloadJson: row.payload_json ?? 'null' }));
  }

  /** Gives claimed orders back (their jobs could not be queued): PROCESSING → PENDING. Returns those given back. */
  async unclaim(db: Db, ids: string[]): Promise<string[]> {
    const rows = await returningRows<{ id: string }>(
      db,
      `UPDATE orders SET status = 'PENDING', lease_until = NULL, updated_at = now()
       WHERE id = ANY($1::text[]) AND status = 'PROCESSING' RETURNING id`,
      [ids],
    );
    return rows.map((row) => row.id);
  }

  /** PROCESSING orders whose lease ran out, with a new lease (so that one recovery handles each). */
  async renewExpiredLeases(leaseMs: number, limit: number): Promise<ClaimedOrder[]> {
    const rows = await returningRows<{ id: string; payload_json: string }>(
      this.dataSource,
      `WITH expired AS (
         SELECT id FROM orders WHERE status = 'PROCESSING' AND lease_until < now()
         ORDER BY lease_until, id LIMIT $2 FOR UPDATE SKIP LOCKED)
       UPDATE orders o SET lease_until = now() + $1 * interval '1 millisecond'
       FROM expired WHERE o.id = expired.id
       RETURNING o.id, o.payload::text AS payload_json`,
      [leaseMs, limit],
    );
    return rows.map((row) => ({ id: row.id, payloadJson: row.payload_json ?? 'null' }));
  }

  /** FAILED → PENDING (an operator's retry); false when the order is not FAILED. */
  async reopenFailed(db: Db, id: string): Promise<boolean> {
    const rows = await returningRows<{ id: string }>(
      db,
      `UPDATE orders SET status = 'PENDING', updated_at = now() WHERE id = $1 AND status = 'FAILED' RETURNING id`,
      [id],
    );
    return rows.length > 0;
  }

  /** The supplier status each of these supplier orders has here, with when it changed at the supplier (epoch ms). */
  async supplierStates(supplierOrderIds: string[]): Promise<Map<string, { status: string | null; atMs: number | null }>> {
    if (supplierOrderIds.length === 0) return new Map();
    const rows: { supplier_order_id: string; supplier_status: string | null; at_ms: string | null }[] = await this.dataSource.query(
      `SELECT supplier_order_id, supplier_status, (extract(epoch FROM supplier_status_at) * 1000)::bigint AS at_ms
       FROM orders WHERE supplier_order_id = ANY($1::text[])`,
      [supplierOrderIds],
    );
    return new Map(
      rows.map((row) => [row.supplier_order_id, { status: row.supplier_status, atMs: row.at_ms === null ? null : Number(row.at_ms) }]),
    );
  }

  /**
   * Linked orders whose supplier status is not final and has not changed since `before`, those
   * whose status was known at the supplier longest ago first: the later of its last change and
   * its last check there (markSupplierChecked), so that orders checked and found unchanged make
   * way for the others instead of being chosen again and again.
   */
  async staleLinked(before: Date, finalStatuses: string[], limit: number): Promise<string[]> {
    if (limit <= 0) return [];
    const rows: { supplier_order_id: string }[] = await this.dataSource.query(
      `SELECT supplier_order_id FROM orders
       WHERE supplier_order_id IS NOT NULL AND supplier_status_at < $1 AND NOT (lower(supplier_status) = ANY($2::text[]))
       ORDER BY greatest(supplier_status_at, supplier_checked_at) LIMIT $3`,
      [before, finalStatuses, limit],
    );
    return rows.map((row) => row.supplier_order_id);
  }

  /** These supplier orders' states were checked at the supplier at `at` (changed or not); updated_at stays: nothing changed here. */
  async markSupplierChecked(supplierOrderIds: string[], at: Date): Promise<void> {
    if (supplierOrderIds.length === 0) return;
    // Rows locked in id order, as the applier locks them, so that the two never deadlock.
    await this.dataSource.query(
      `UPDATE orders SET supplier_checked_at = $2
       WHERE id IN (SELECT id FROM orders WHERE supplier_order_id = ANY($1::text[]) ORDER BY id FOR UPDATE)`,
      [supplierOrderIds, at],
    );
  }

  /** Which of these orders are still PROCESSING (waiting for their dispatch). */
  async processingAmong(ids: string[]): Promise<Set<string>> {
    const rows: { id: string }[] = await this.dataSource.query(
      `SELECT id FROM orders WHERE id = ANY($1::text[]) AND status = 'PROCESSING'`,
      [ids],
    );
    return new Set(rows.map((row) => row.id));
  }
}
