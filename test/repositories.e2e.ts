import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/database/data-source-options.js';
import { migrate } from '../src/database/migrate.js';
import { OrderMessageApplier } from '../src/orders/order-message-applier.js';
import { InboxRepository } from '../src/orders/repositories/inbox.repository.js';
import { OrderHistoryRepository } from '../src/orders/repositories/order-history.repository.js';
import { OrdersRepository } from '../src/orders/repositories/orders.repository.js';
import type { InboundMessage } from '../src/queues/order-events.queue.js';
import { SyncRepository } from '../src/reconciliation/sync.repository.js';
import { dropDatabase, isolatedNames } from './support/service.js';

/**
 * The repositories against a real, migrated Postgres, one test per method that writes (and the
 * rules that live in their SQL): the locking order, the inbox dedupe, placeholders, the
 * out-of-order rule, claims and leases. No Nest, no queues: the SQL alone.
 */
const names = isolatedNames('repos');
let ds: DataSource;
let orders: OrdersRepository;
let history: OrderHistoryRepository;
let inbox: InboxRepository;
let applier: OrderMessageApplier;

beforeAll(async () => {
  await migrate({ databaseUrl: names.databaseUrl, databaseMigrationUrl: '', databasePoolMax: 4 });
  ds = new DataSource(dataSourceOptions({ databaseUrl: names.databaseUrl, databasePoolMax: 4 }));
  await ds.initialize();
  orders = new OrdersRepository(ds);
  history = new OrderHistoryRepository(ds);
  inbox = new InboxRepository(ds);
  applier = new OrderMessageApplier(orders, history, inbox);
});
afterAll(async () => {
  await ds?.destroy();
  await dropDatabase(names.databaseName);
});

const message = (
  messageId: string,
  supplierOrderId: string,
  status: string,
  occurredAt: string,
  extra: Partial<InboundMessage> = {},
): InboundMessage => ({
  source: '1688',
  messageId,
  topic: 'ORDER_BUYER_VIEW_ORDER_PAY',
  receivedAt: new Date().toISOString(),
  body: `{"msgId":${messageId}}`,
  changes: [{ orderId: null, supplierOrderId, status, occurredAt, bornAt: Date.parse(occurredAt) }],
  ignoredReason: null,
  ...extra,
});

const row = async (id: string) => (await ds.query(`SELECT * FROM orders WHERE id = $1`, [id]))[0];

describe('schema', () => {
  it('the entities describe exactly what the migrations made (migration:generate starts from no difference)', async () => {
    const diff = await ds.driver.createSchemaBuilder().log();
    expect(diff.upQueries.map((q) => q.query)).toEqual([]);
  });
});

describe('OrdersRepository', () => {
  it('insertPending creates, takes over a placeholder named by our id, and leaves a 1688 placeholder alone', async () => {
    await orders.insertPlaceholders(ds, [
      { id: 'P-ours', supplierOrderId: null, placeholderFor: 'order' },
      { id: '1688-500000000000000001', supplierOrderId: '500000000000000001', placeholderFor: 'supplier_order' },
    ]);
    const created = await orders.insertPending(ds, [
      { id: 'P-new', payloadJson: '{"a":167539019420540001}' },
      { id: 'P-ours', payloadJson: '{}' },
      { id: '1688-500000000000000001', payloadJson: '{}' },
    ]);
    expect(created.sort()).toEqual(['P-new', 'P-ours']);
    expect(await row('P-ours')).toMatchObject({ status: 'PENDING', placeholder_for: null });
    expect(await row('1688-500000000000000001')).toMatchObject({ status: 'EXTERNAL', placeholder_for: 'supplier_order' });
    // jsonb keeps every digit; the read gives the text, not a double.
    expect((await orders.get('P-new'))?.payload_json).toBe('{"a": 167539019420540001}');
  });

  it('insertPlaceholders skips an id or a supplier order already held', async () => {
    await orders.insertPending(ds, [{ id: 'P-held', payloadJson: '{}' }]);
    await ds.query(`UPDATE orders SET supplier_order_id = '500000000000000002' WHERE id = 'P-held'`);
    await orders.insertPlaceholders(ds, [
      { id: 'P-held', supplierOrderId: null, placeholderFor: 'order' },
      { id: '1688-500000000000000002', supplierOrderId: '500000000000000002', placeholderFor: 'supplier_order' },
    ]);
    expect(await row('1688-500000000000000002')).toBeUndefined();
    expect(await row('P-held')).toMatchObject({ status: 'PENDING' });
  });

  it('lockForChange locks ours by id and holders by supplier id, in id order, with their stamps', async () => {
    await ds.query(
      `UPDATE orders SET supplier_status = 'waitsellersend', supplier_status_at = '2026-11-20T10:00:00.123Z', supplier_status_born = 5, supplier_status_rank = 20 WHERE id = 'P-held'`,
    );
    const locked = await orders.transaction((db) => orders.lockForChange(db, ['P-new', 'P-ours'], ['500000000000000002']));
    expect(locked.map((o) => o.id)).toEqual(['P-held', 'P-new', 'P-ours']);
    expect(locked[0]).toMatchObject({
      supplierOrderId: '500000000000000002',
      supplierStatus: 'waitsellersend',
      stamp: { occurredAt: Date.parse('2026-11-20T10:00:00.123Z'), bornAt: 5, rank: 20 },
    });
    expect(locked[1]?.stamp).toBeNull();
  });

  it('claim takes PENDING orders under a lease and skips rows another transaction holds; unclaim gives them back', async () => {
    await orders.insertPending(ds, [
      { id: 'C-1', payloadJson: '{"n":1}' },
      { id: 'C-2', payloadJson: '{}' },
    ]);
    const holder = ds.createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    try {
      await holder.query(`SELECT 1 FROM orders WHERE id = 'C-2' FOR UPDATE`);
      const claimed = await orders.transaction((db) => orders.claim(db, 60_000, { ids: ['C-1', 'C-2'] }));
      expect(claimed).toEqual([{ id: 'C-1', payloadJson: '{"n": 1}' }]);
    } finally {
      await holder.rollbackTransaction();
      await holder.release();
    }
    expect(await row('C-1')).toMatchObject({ status: 'PROCESSING', lease_until: expect.any(Date) });
    expect(await orders.transaction((db) => orders.unclaim(db, ['C-1', 'C-2']))).toEqual(['C-1']);
    expect(await row('C-1')).toMatchObject({ status: 'PENDING', lease_until: null });
  });

  it('renewExpiredLeases gives an expired lease a new one (so one recovery handles it) and leaves live leases', async () => {
    await ds.query(
      `INSERT INTO orders (id, status, payload, lease_until) VALUES ('L-old', 'PROCESSING', '{}', now() - interval '1 minute'), ('L-live', 'PROCESSING', '{}', now() + interval '1 minute')`,
    );
    expect((await orders.renewExpiredLeases(60_000, 100)).map((o) => o.id)).toEqual(['L-old']);
    expect(await orders.renewExpiredLeases(60_000, 100)).toEqual([]);
  });

  it('reopenFailed moves FAILED to PENDING only', async () => {
    await ds.query(`INSERT INTO orders (id, status, payload) VALUES ('F-1', 'FAILED', '{}')`);
    expect(await orders.reopenFailed(ds, 'F-1')).toBe(true);
    expect(await orders.reopenFailed(ds, 'F-1')).toBe(false);
  });

  it('rename moves an order and its history together (ON UPDATE CASCADE)', async () => {
    await ds.query(`INSERT INTO orders (id, status, placeholder_for) VALUES ('R-from', 'EXTERNAL', 'order')`);
    await history.append(ds, [{ orderId: 'R-from', kind: 'supplier_message', outcome: 'applied', messageId: 'm-1' }]);
    await orders.rename(ds, 'R-from', 'R-to');
    expect((await history.listForOrder('R-to')).map((h) => h.messageId)).toEqual(['m-1']);
  });
});

describe('OrderHistoryRepository', () => {
  it('append keeps the order given; moveToOrder hands one order history to another', async () => {
    await orders.insertPending(ds, [
      { id: 'H-1', payloadJson: '{}' },
      { id: 'H-2', payloadJson: '{}' },
    ]);
    await history.append(ds, [
      { orderId: 'H-1', kind: 'status_change', outcome: 'applied', toStatus: 'PENDING' },
      { orderId: 'H-1', kind: 'supplier_message', outcome: 'ignored', reason: 'older', occurredAtMs: Date.parse('2026-01-01T00:00:00Z') },
    ]);
    await history.moveToOrder(ds, 'H-1', 'H-2');
    const items = await history.listForOrder('H-2');
    expect(items.map((i) => [i.kind, i.outcome, i.reason])).toEqual([
      ['status_change', 'applied', null],
      ['supplier_message', 'ignored', 'older'],
    ]);
    expect(new Date(items[1]?.occurredAt as string).toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });
});

describe('InboxRepository', () => {
  it('records each (source, message id) once and says which were new', async () => {
    const entry = {
      source: '1688',
      messageId: 'i-1',
      topic: 't',
      body: '{}',
      receivedAt: new Date().toISOString(),
      outcome: 'applied' as const,
      reason: null,
    };
    expect([...(await inbox.recordNew(ds, [entry, { ...entry, messageId: 'i-2' }]))].sort()).toEqual(['1688\u0000i-1', '1688\u0000i-2']);
    expect([...(await inbox.recordNew(ds, [entry, { ...entry, source: 'orders' }]))]).toEqual(['orders\u0000i-1']);
  });
});

describe('SyncRepository', () => {
  it('finds the newest run of each kind by its number, past run 9 too (not by the text of its id)', async () => {
    const sync = new SyncRepository(ds);
    const window = { from: new Date(0), to: new Date() };
    let last = '';
    for (let i = 0; i < 12; i++) {
      last = await sync.startRun('pull', 'schedule', window);
      await sync.finishRun(last, i === 10 ? 'failed' : 'ok', { n: i }, i === 10 ? 'boom' : null);
    }
    const runs = await sync.lastRuns();
    expect(runs.last.pull?.id).toBe(last);
    expect(runs.lastFailed.pull?.counts).toEqual({ n: 10 });
  });

  it('only ever moves a watermark forward', async () => {
    const sync = new SyncRepository(ds);
    await sync.advanceWatermark('sweep', new Date('2026-11-20T00:00:00Z'));
    await sync.advanceWatermark('sweep', new Date('2026-11-19T00:00:00Z'));
    expect((await sync.watermark('sweep'))?.toISOString()).toBe('2026-11-20T00:00:00.000Z');
  });
});

describe('OrderMessageApplier', () => {
  it('applies in supplier time: an older message never overwrites a newer one, whatever the order they come in', async () => {
    await applier.apply([message('a-2', '600000000000000001', 'waitbuyerreceive', '2026-11-20T12:00:00Z')]);
    await applier.apply([message('a-1', '600000000000000001', 'waitsellersend', '2026-11-20T11:00:00Z')]);
    const [placeholder] = await ds.query(`SELECT id, status, supplier_status FROM orders WHERE supplier_order_id = '600000000000000001'`);
    expect(placeholder).toMatchObject({ id: '1688-600000000000000001', status: 'EXTERNAL', supplier_status: 'waitbuyerreceive' });
    const entries = await history.listForOrder(placeholder.id);
    expect(entries.map((e) => [e.messageId, e.outcome])).toEqual([
      ['a-2', 'applied'],
      ['a-1', 'ignored'],
    ]);
  });

  it('applies a duplicate once, in one batch or across batches', async () => {
    const m = message('d-1', '600000000000000002', 'waitbuyerpay', '2026-11-20T11:00:00Z');
    expect(await applier.apply([m, m])).toEqual(['applied', 'duplicate']);
    expect(await applier.apply([m])).toEqual(['duplicate']);
    expect((await ds.query(`SELECT count(*)::int AS n FROM order_history WHERE message_id = 'd-1'`))[0].n).toBe(1);
  });

  it('keeps the messages of a supplier order whose natural placeholder id is one of our own orders', async () => {
    await orders.insertPending(ds, [{ id: '1688-600000000000000003', payloadJson: '{}' }]);
    expect(await applier.apply([message('x-1', '600000000000000003', 'waitsellersend', '2026-11-20T11:00:00Z')])).toEqual(['applied']);
    const [holder] = await ds.query(`SELECT id, status FROM orders WHERE supplier_order_id = '600000000000000003'`);
    expect(holder).toEqual({ id: '1688-600000000000000003-2', status: 'EXTERNAL' });
    expect(await row('1688-600000000000000003')).toMatchObject({ status: 'PENDING', supplier_order_id: null });
  });
});
