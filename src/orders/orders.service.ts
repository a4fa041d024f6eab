import { BadRequestException, Injectable, NotFoundException, PayloadTooLargeException } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { unstorableJsonReason } from '../common/json-body.js';
import { ORDER_ID_PATTERN } from '../common/validation.js';
import { MAX_PAYLOAD_BYTES, type CreateOrderDto } from './dto/create-order.dto.js';
import type { ListOrdersQuery } from './dto/list-orders.query.js';
import { decodeCursor, encodeCursor, ORDER_COLUMNS, toOrderView, type OrderEventView, type OrderRow, type OrderView } from './order-view.js';

export type CreateOutcome = 'created' | 'existing' | 'conflict';

export interface CreateResult {
  id: string;
  outcome: CreateOutcome;
  order: OrderView;
}

/** The order tables' only writer for REST clients; webhook messages come in through the queue. */
@Injectable()
export class OrdersService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Creates orders idempotently, all in one round trip: an id seen before with the same payload
   * answers the stored order, with another payload a conflict. An EXTERNAL order (1688 messages
   * that arrived first) with the same id is taken over and keeps its history.
   */
  async create(orders: CreateOrderDto[]): Promise<CreateResult[]> {
    const seen = new Set<string>();
    for (const order of orders) {
      if (seen.has(order.id)) throw new BadRequestException(`order id "${order.id}" appears more than once in the request`);
      seen.add(order.id);
      const size = Buffer.byteLength(JSON.stringify(order.payload));
      if (size > MAX_PAYLOAD_BYTES) throw new PayloadTooLargeException(`payload of order "${order.id}" is ${size} bytes; the limit is ${MAX_PAYLOAD_BYTES}`);
      const unstorable = unstorableJsonReason(order.payload, `payload of order "${order.id}":`);
      if (unstorable) throw new BadRequestException(unstorable);
    }
    const ids = orders.map((order) => order.id);
    const payloads = orders.map((order) => JSON.stringify(order.payload));

    return this.dataSource.transaction(async (db) => {
      const created: { id: string }[] = await db.query(
        `INSERT INTO orders (id, status, payload)
         SELECT id, 'PENDING', payload FROM unnest($1::text[], $2::jsonb[]) AS i(id, payload)
         ON CONFLICT (id) DO UPDATE SET status = 'PENDING', payload = EXCLUDED.payload, updated_at = now()
           WHERE orders.status = 'EXTERNAL'
         RETURNING id`,
        [ids, payloads],
      );
      const createdIds = created.map((row) => row.id);
      if (createdIds.length > 0) {
        await db.query(
          `INSERT INTO order_events (order_id, kind, to_status, outcome) SELECT id, 'status_change', 'PENDING', 'applied' FROM unnest($1::text[]) AS c(id)`,
          [createdIds],
        );
      }
      const rows: (OrderRow & { same_payload: boolean })[] = await db.query(
        `SELECT ${ORDER_COLUMNS}, payload = i.sent_payload AS same_payload
         FROM unnest($1::text[], $2::jsonb[]) AS i(id, sent_payload) JOIN orders USING (id)`,
        [ids, payloads],
      );
      const byId = new Map(rows.map((row) => [row.id, row]));
      const createdSet = new Set(createdIds);
      return orders.map((order) => {
        const row = byId.get(order.id) as OrderRow & { same_payload: boolean };
        const outcome: CreateOutcome = createdSet.has(order.id) ? 'created' : row.same_payload ? 'existing' : 'conflict';
        return { id: order.id, outcome, order: toOrderView(row) };
      });
    });
  }

  async get(id: string): Promise<OrderView> {
    // An id no order can have (control characters, too long) is simply not found.
    if (!ORDER_ID_PATTERN.test(id)) throw new NotFoundException('no order has this id: order ids are 1 to 128 characters without control characters');
    const rows: OrderRow[] = await this.dataSource.query(`SELECT ${ORDER_COLUMNS} FROM orders WHERE id = $1`, [id]);
    if (rows.length === 0) throw new NotFoundException(`order "${id}" not found`);
    return toOrderView(rows[0] as OrderRow);
  }

  /** Keyset pagination over (created_at, id): stable while orders are added or updated. */
  async list(query: ListOrdersQuery): Promise<{ items: OrderView[]; nextCursor: string | null }> {
    const limit = query.limit ?? 100;
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (query.status) add('status = ?', query.status);
    if (query.supplierOrderId) add('supplier_order_id = ?', query.supplierOrderId);
    if (query.supplierStatus) add('supplier_status = ?', query.supplierStatus);
    if (query.updatedSince) add('updated_at >= ?::timestamptz', query.updatedSince);
    if (query.cursor) {
      const cursor = decodeCursor(query.cursor);
      if (!cursor) throw new BadRequestException('cursor is not one this service gave out');
      params.push(cursor.createdAt, cursor.id);
      where.push(`(created_at, id) > ($${params.length - 1}::timestamptz, $${params.length})`);
    }
    params.push(limit + 1);
    const rows: OrderRow[] = await this.dataSource.query(
      `SELECT ${ORDER_COLUMNS} FROM orders ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY created_at, id LIMIT $${params.length}`,
      params,
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page.map(toOrderView), nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
  }

  async events(id: string): Promise<{ orderId: string; items: OrderEventView[] }> {
    await this.get(id);
    const items: OrderEventView[] = await this.dataSource.query(
      `SELECT id::text AS id, kind, source, message_id AS "messageId", topic, supplier_status AS "supplierStatus",
              occurred_at AS "occurredAt", from_status AS "fromStatus", to_status AS "toStatus", attempt, outcome, reason,
              created_at AS "recordedAt"
       FROM order_events WHERE order_id = $1 ORDER BY id`,
      [id],
    );
    return { orderId: id, items };
  }
}
