import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, orderMessage, push1688 } from './support/http.js';
import { ADMIN_KEY, eventually, startTestService, type TestService } from './support/service.js';

let t: TestService;

beforeAll(async () => {
  // Orders stay PENDING here: dispatch has its own tests.
  t = await startTestService('orders', { DISPATCH_ENABLED: 'false' });
});
afterAll(async () => {
  await t?.stop();
});

describe('POST /orders', () => {
  it('creates (201), answers the same order again (200), and refuses another payload (409)', async () => {
    const first = await api(t.baseUrl, 'POST', '/orders', { id: 'A-1001', payload: { sku: 'x', qty: 2 } });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      id: 'A-1001',
      status: 'PENDING',
      payload: { sku: 'x', qty: 2 },
      attempts: 0,
      lastError: null,
      supplierOrderId: null,
    });

    const again = await api(t.baseUrl, 'POST', '/orders', { id: 'A-1001', payload: { qty: 2, sku: 'x' } });
    expect(again.status).toBe(200);
    expect(again.body.createdAt).toBe(first.body.createdAt);

    const other = await api(t.baseUrl, 'POST', '/orders', { id: 'A-1001', payload: { sku: 'y' } });
    expect(other.status).toBe(409);
    expect(other.body.message).toMatch(/different payload/);

    const events = await api(t.baseUrl, 'GET', '/orders/A-1001/events');
    expect(events.body.items).toEqual([expect.objectContaining({ kind: 'status_change', toStatus: 'PENDING', outcome: 'applied' })]);
  });

  it.each([
    ['no id', { payload: {} }],
    ['an empty id', { id: '', payload: {} }],
    ['an id of 129 characters', { id: 'x'.repeat(129), payload: {} }],
    ['a numeric id', { id: 5, payload: {} }],
    ['no payload', { id: 'B-1' }],
    ['a payload that is an array', { id: 'B-2', payload: [1] }],
    ['a payload that is a string', { id: 'B-3', payload: 'x' }],
  ])('answers 400 to %s', async (_name, body) => {
    const answer = await api(t.baseUrl, 'POST', '/orders', body);
    expect(answer.status).toBe(400);
    expect(answer.body.message).toBeDefined();
  });

  it('answers 413 to a payload over 64 KiB, and 400 to a body that is not JSON', async () => {
    expect((await api(t.baseUrl, 'POST', '/orders', { id: 'B-4', payload: { blob: 'x'.repeat(70_000) } })).status).toBe(413);
    expect((await api(t.baseUrl, 'POST', '/orders', '{"id":')).status).toBe(400);
  });

  it('keeps SQL and unicode ids as data', async () => {
    const id = "订单'); DROP TABLE orders;--🚀";
    expect((await api(t.baseUrl, 'POST', '/orders', { id, payload: { note: "'; --" } })).status).toBe(201);
    const read = await api(t.baseUrl, 'GET', `/orders/${encodeURIComponent(id)}`);
    expect(read.body).toMatchObject({ id, payload: { note: "'; --" } });
  });
});

describe('POST /orders/batch', () => {
  it('creates up to 1,000 orders at once with an outcome for each', async () => {
    const orders = Array.from({ length: 1_000 }, (_, i) => ({ id: `batch-${i}`, payload: { i } }));
    const first = await api(t.baseUrl, 'POST', '/orders/batch', { orders });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ created: 1_000, existing: 0, conflicts: 0 });

    const second = await api(t.baseUrl, 'POST', '/orders/batch', {
      orders: [
        { id: 'batch-0', payload: { i: 0 } },
        { id: 'batch-1', payload: { i: 'other' } },
        { id: 'batch-new', payload: {} },
      ],
    });
    expect(second.body).toMatchObject({ created: 1, existing: 1, conflicts: 1 });
    expect(second.body.results.map((r: { outcome: string }) => r.outcome)).toEqual(['existing', 'conflict', 'created']);
  });

  it('refuses more than 1,000 orders, and the same id twice in one request', async () => {
    const orders = Array.from({ length: 1_001 }, (_, i) => ({ id: `too-many-${i}`, payload: {} }));
    expect((await api(t.baseUrl, 'POST', '/orders/batch', { orders })).status).toBe(400);
    const twice = await api(t.baseUrl, 'POST', '/orders/batch', {
      orders: [
        { id: 'dup', payload: {} },
        { id: 'dup', payload: {} },
      ],
    });
    expect(twice.status).toBe(400);
    expect(twice.body.message).toMatch(/more than once/);
  });
});

describe('GET /orders', () => {
  it('pages through every order once, without gaps or repeats, while orders are being added', async () => {
    const { rows } = await t.db.query('SELECT id FROM orders');
    const seen: string[] = [];
    let cursor: string | null = null;
    let added = 0;
    do {
      const page: { status: number; body: { items: { id: string }[]; nextCursor: string | null } } = await api(
        t.baseUrl,
        'GET',
        `/orders?limit=37${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((o) => o.id));
      cursor = page.body.nextCursor;
      // New orders sort after every existing one: they must appear once, at the end.
      if (added < 3) await api(t.baseUrl, 'POST', '/orders', { id: `during-paging-${added++}`, payload: {} });
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBe(rows.length + added);
  });

  it('filters by status, supplier status, supplier order id and update time', async () => {
    await t.db.query(`UPDATE orders SET supplier_order_id = 'SUP-1', supplier_status = 'waitbuyerpay' WHERE id = 'batch-5'`);
    expect((await api(t.baseUrl, 'GET', '/orders?supplierOrderId=SUP-1')).body.items.map((o: { id: string }) => o.id)).toEqual(['batch-5']);
    expect((await api(t.baseUrl, 'GET', '/orders?supplierStatus=waitbuyerpay')).body.items.map((o: { id: string }) => o.id)).toEqual([
      'batch-5',
    ]);
    const pending = await api(t.baseUrl, 'GET', '/orders?status=PENDING&limit=5');
    expect(pending.body.items).toHaveLength(5);
    expect(pending.body.items.every((o: { status: string }) => o.status === 'PENDING')).toBe(true);
    expect((await api(t.baseUrl, 'GET', '/orders?status=COMPLETED')).body.items).toEqual([]);
    const future = await api(t.baseUrl, 'GET', `/orders?updatedSince=${new Date(Date.now() + 60_000).toISOString()}`);
    expect(future.body).toEqual({ items: [], nextCursor: null });
  });

  it.each([
    ['an unknown status', 'status=SHIPPED'],
    ['a limit of 0', 'limit=0'],
    ['a limit of 1001', 'limit=1001'],
    ['a limit that is not a number', 'limit=ten'],
    ['a forged cursor', 'cursor=bm90LWEtY3Vyc29y'],
    ['a bad updatedSince', 'updatedSince=yesterday'],
  ])('answers 400 to %s', async (_name, query) => {
    expect((await api(t.baseUrl, 'GET', `/orders?${query}`)).status).toBe(400);
  });

  it('answers 404 for an unknown order and its events', async () => {
    expect((await api(t.baseUrl, 'GET', '/orders/nope')).status).toBe(404);
    expect((await api(t.baseUrl, 'GET', '/orders/nope/events')).status).toBe(404);
  });

  it('lists history oldest first when its ids cross a power of ten (sorted as numbers, not text)', async () => {
    // The next history ids are 10^k - 1, 10^k, ...: as text "100" sorts before "99".
    await t.db.query(`SELECT setval('order_history_id_seq', power(10, ceil(log(last_value + 3)))::bigint - 2) FROM order_history_id_seq`);
    expect((await api(t.baseUrl, 'POST', '/orders', { id: 'history-order', payload: {} })).status).toBe(201);
    await t.db.query(`UPDATE orders SET supplier_order_id = '700000000000000900' WHERE id = 'history-order'`);
    const statuses = ['waitsellersend', 'waitbuyerreceive', 'confirm_goods'];
    for (const [i, status] of statuses.entries()) {
      const message = orderMessage({ msgId: 79001 + i, orderId: '700000000000000900', status, gmtBorn: Date.now() - 60_000 + i * 1000 });
      expect((await push1688(t.baseUrl, message)).status).toBe(200);
      // One at a time, so each lands in its own batch and history row order is push order.
      await eventually(async () => {
        const items = (await api(t.baseUrl, 'GET', '/orders/history-order/events')).body.items as unknown[];
        return items.length === i + 2 ? true : undefined;
      });
    }
    const items = (await api(t.baseUrl, 'GET', '/orders/history-order/events')).body.items as {
      id: string;
      supplierStatus: string | null;
    }[];
    expect(items.map((e) => e.supplierStatus)).toEqual([null, ...statuses]);
    const ids = items.map((e) => BigInt(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : 1)));
    expect(String(ids[0]).length).toBeLessThan(String(ids.at(-1)).length);
  });
});

describe('API keys', () => {
  it.each([
    ['GET', '/orders'],
    ['GET', '/orders/A-1001'],
    ['GET', '/orders/A-1001/events'],
    ['POST', '/orders'],
    ['POST', '/orders/batch'],
  ])('%s %s answers 401 without a key or with a wrong one', async (method, path) => {
    const body = method === 'POST' ? {} : undefined;
    const without = await api(t.baseUrl, method, path, body, null);
    expect(without.status).toBe(401);
    expect(without.body.message).toMatch(/Bearer/);
    expect((await api(t.baseUrl, method, path, body, 'wrong-key')).status).toBe(401);
  });

  it('accepts any key of API_KEYS', async () => {
    expect((await api(t.baseUrl, 'GET', '/orders?limit=1', undefined, 'second-key-0123456789')).status).toBe(200);
  });
});

describe('ids and numbers of every shape', () => {
  it('keeps numbers in payloads digit for digit: past 2^53, with trailing zeros, in exponent form', async () => {
    const body = '{"id":"N-1","payload":{"big":167539019420540001,"price":12.50,"neg":-9007199254740993,"list":[1,2.0,3e2]}}';
    const created = await fetch(`${t.baseUrl}/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body,
    });
    expect(created.status).toBe(201);
    const text = await (await fetch(`${t.baseUrl}/orders/N-1`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).text();
    expect(text).toContain('"big":167539019420540001');
    expect(text).toContain('"neg":-9007199254740993');
    expect(text).toContain('"price":12.50');
    // jsonb writes an exponent out in full; the value is the same.
    expect(text).toContain('"list":[1,2.0,300]');
    // The same numbers again are the same payload: 200, not a conflict.
    const again = await fetch(`${t.baseUrl}/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body,
    });
    expect(again.status).toBe(200);
  });

  it('refuses a number no database column could hold, with a 400 that says so', async () => {
    const answer = await api(t.baseUrl, 'POST', '/orders', '{"id":"N-2","payload":{"x":1e400000}}');
    expect(answer.status).toBe(400);
    expect(answer.body.message).toMatch(/too large/);
  });

  it('answers 400, not 500, to dates the ISO-8601 validator used to let through', async () => {
    for (const updatedSince of ['2020-W01', '2020-01-01T10', '2026-02-30T00:00:00Z', '0000-01-01T00:00:00Z']) {
      expect((await api(t.baseUrl, 'GET', `/orders?updatedSince=${encodeURIComponent(updatedSince)}`)).status).toBe(400);
    }
    expect((await api(t.baseUrl, 'GET', `/orders?updatedSince=2026-11-22T08:00`)).status).toBe(200);
  });

  it('serves an id of 128 characters of any script in every route, and pages through such ids with cursors', async () => {
    const ids = ['订'.repeat(128), '😀'.repeat(128), '%'.repeat(128), `${'x'.repeat(127)}/`];
    for (const id of ids) expect((await api(t.baseUrl, 'POST', '/orders', { id, payload: {} })).status).toBe(201);
    for (const id of ids) {
      const path = `/orders/${encodeURIComponent(id)}`;
      expect((await api(t.baseUrl, 'GET', path)).body.id).toBe(id);
      expect((await api(t.baseUrl, 'GET', `${path}/events`)).status).toBe(200);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { items: { id: string }[]; nextCursor: string | null } } = await api(
        t.baseUrl,
        'GET',
        `/orders?limit=1${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((o) => o.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    for (const id of ids) expect(seen).toContain(id);
  });

  it('gives a new order the id of a 1688 placeholder: the placeholder moves aside and keeps its messages', async () => {
    expect(
      (await push1688(t.baseUrl, orderMessage({ msgId: 77001, orderId: '700000000000000001', status: 'waitsellersend' }))).status,
    ).toBe(200);
    await eventually(async () => ((await api(t.baseUrl, 'GET', '/orders/1688-700000000000000001')).status === 200 ? true : undefined));
    const created = await api(t.baseUrl, 'POST', '/orders', { id: '1688-700000000000000001', payload: {} });
    expect(created).toMatchObject({ status: 201, body: { status: 'PENDING', supplierOrderId: null } });
    const holder = (await api(t.baseUrl, 'GET', '/orders?supplierOrderId=700000000000000001')).body.items;
    expect(holder).toEqual([
      expect.objectContaining({ id: '1688-700000000000000001-2', status: 'EXTERNAL', supplierStatus: 'waitsellersend' }),
    ]);
    expect(
      (await api(t.baseUrl, 'GET', '/orders/1688-700000000000000001-2/events')).body.items.map((e: { messageId: string }) => e.messageId),
    ).toEqual(['77001']);
  });
});
