import { BadRequestException, Injectable, NotFoundException, PayloadTooLargeException } from '@nestjs/common';
import { parseDateTime } from '../common/date-time.js';
import { unstorableJsonReason } from '../common/json-body.js';
import { stringifyLosslessJson } from '../common/lossless-json.js';
import { ORDER_ID_PATTERN } from '../common/validation.js';
import { MAX_PAYLOAD_BYTES, type CreateOrderDto } from './dto/create-order.dto.js';
import type { ListOrdersQuery } from './dto/list-orders.query.js';
import { decodeCursor, encodeCursor, toOrderView, type OrderView } from './order-view.js';
import type { Db } from './repositories/db.js';
import { OrderHistoryRepository, type HistoryView } from './repositories/order-history.repository.js';
import { OrdersRepository } from './repositories/orders.repository.js';

export type CreateOutcome = 'created' | 'existing' | 'conflict';

export interface CreateResult {
  id: string;
  outcome: CreateOutcome;
  order: OrderView;
}

/** How many other ids a supplier order's placeholder tries when one of our new orders wants its id. */
const PLACEHOLDER_ID_TRIES = 20;

/** The order domain for REST clients: create, read, list, history. Webhook messages come in through the queue. */
@Injectable()
export class OrdersService {
  constructor(
    private readonly orders: OrdersRepository,
    private readonly history: OrderHistoryRepository,
  ) {}

  /**
   * Creates orders idempotently, all in one transaction: an id seen before with the same payload
   * answers the stored order, with another payload a conflict. An EXTERNAL order that a generic
   * webhook named by this id (its messages came first) is taken over and keeps its history; the
   * placeholder of a 1688 supplier order is not ours to take, and moves to another id.
   */
  async create(orders: CreateOrderDto[]): Promise<CreateResult[]> {
    const seen = new Set<string>();
    const rows = orders.map((order) => {
      if (seen.has(order.id)) throw new BadRequestException(`order id "${order.id}" appears more than once in the request`);
      seen.add(order.id);
      const unstorable = unstorableJsonReason(order.payload, `payload of order "${order.id}"`);
      if (unstorable) throw new BadRequestException(unstorable);
      const payloadJson = stringifyLosslessJson(order.payload);
      const size = Buffer.byteLength(payloadJson);
      if (size > MAX_PAYLOAD_BYTES)
        throw new PayloadTooLargeException(`payload of order "${order.id}" is ${size} bytes; the limit is ${MAX_PAYLOAD_BYTES}`);
      return { id: order.id, payloadJson };
    });

    return this.orders.transaction(async (db) => {
      await this.movePlaceholdersAside(
        db,
        rows.map((row) => row.id),
      );
      const created = new Set(await this.orders.insertPending(db, rows));
      await this.history.append(
        db,
        [...created].map((orderId) => ({ orderId, kind: 'status_change', toStatus: 'PENDING', outcome: 'applied' })),
      );
      const stored = new Map((await this.orders.findWithPayloadMatch(db, rows)).map((row) => [row.id, row]));
      return rows.map((row) => {
        const order = stored.get(row.id);
        if (!order) throw new Error(`order "${row.id}" is neither created nor found`);
        const outcome: CreateOutcome = created.has(row.id) ? 'created' : order.same_payload ? 'existing' : 'conflict';
        return { id: row.id, outcome, order: toOrderView(order) };
      });
    });
  }

  async get(id: string): Promise<OrderView> {
    // An id no order can have (control characters, too long) is simply not found.
    if (!ORDER_ID_PATTERN.test(id))
      throw new NotFoundException('no order has this id: order ids are 1 to 128 characters without control characters');
    const row = await this.orders.get(id);
    if (!row) throw new NotFoundException(`order "${id}" not found`);
    return toOrderView(row);
  }

  async list(query: ListOrdersQuery): Promise<{ items: OrderView[]; nextCursor: string | null }> {
    const limit = query.limit ?? 100;
    const after = query.cursor ? decodeCursor(query.cursor) : undefined;
    if (after === null) throw new BadRequestException('cursor is not one this service gave out');
    const since = query.updatedSince === undefined ? undefined : parseDateTime(query.updatedSince);
    const rows = await this.orders.list({
      status: query.status,
      supplierOrderId: query.supplierOrderId,
      supplierStatus: query.supplierStatus,
      updatedSince: since == null ? undefined : new Date(since).toISOString(),
      after,
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page.map(toOrderView), nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
  }

  async events(id: string): Promise<{ orderId: string; items: HistoryView[] }> {
    await this.get(id);
    return { orderId: id, items: await this.history.listForOrder(id) };
  }

  /** Placeholders of 1688 supplier orders that hold an id a new order wants: they take `<id>-2`, `-3`, … */
  private async movePlaceholdersAside(db: Db, ids: string[]): Promise<void> {
    for (const id of await this.orders.supplierPlaceholdersAmong(db, ids)) {
      const candidates = Array.from({ length: PLACEHOLDER_ID_TRIES }, (_, i) => `${id}-${i + 2}`);
      const taken = await this.orders.existingIds(db, candidates);
      const free = candidates.find((candidate) => !taken.has(candidate));
      if (!free) throw new Error(`no free id to move the EXTERNAL order "${id}" to`);
      await this.orders.rename(db, id, free);
    }
  }
}
