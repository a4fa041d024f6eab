import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, form1688, orderMessage, push1688, pushGeneric } from './support/http.js';
import { eventually, startTestService, type TestService } from './support/service.js';

const VECTOR_MESSAGE =
  '{"msgId":123,"type":"ORDER_BUYER_VIEW_ORDER_PAY","gmtBorn":1586227869437,"userInfo":"b2b-1676547900b7bb3","data":{"orderId":167539019420540000,"currentStatus":"waitsellersend"}}';

let t: TestService;
let nextMsgId = 1_000_000;
const msgId = () => ++nextMsgId;
let nextOrder = 167539019420540100n;
const supplierOrderId = () => String(++nextOrder);

async function orderBySupplierId(id: string) {
  const { status, body } = await api(t.baseUrl, 'GET', `/orders?supplierOrderId=${id}`);
  expect(status).toBe(200);
  return body.items[0] as Record<string, any> | undefined;
}

async function eventsOf(orderId: string) {
  const { body } = await api(t.baseUrl, 'GET', `/orders/${encodeURIComponent(orderId)}/events`);
  return body.items as Record<string, any>[];
}

beforeAll(async () => {
  t = await startTestService('ingest');
});
afterAll(async () => {
  await t?.stop();
});

describe('the contract vector', () => {
  // The contract's vector is signed with the secret "test123", too short for production.
  let vector: TestService;
  beforeAll(async () => {
    vector = await startTestService('ingest_vector', { ALIBABA_APP_SECRET: 'test123' });
  });
  afterAll(async () => {
    await vector?.stop();
  });

  it('accepts the contract vector as 1688 sends it and applies it, order id digit for digit', async () => {
    const answer = await push1688(vector.baseUrl, VECTOR_MESSAGE, {
      body: `message=${encodeURIComponent(VECTOR_MESSAGE)}&_aop_signature=607268A312164B246810C1E4D054C0710D03D9FC`,
    });
    expect(answer).toMatchObject({ status: 200, body: { success: true, msgId: '123' } });
    const order = await eventually(
      () => (async () => (await api(vector.baseUrl, 'GET', '/orders?supplierOrderId=167539019420540000')).body.items[0])(),
      10_000,
      'vector order',
    );
    expect(order).toMatchObject({ status: 'EXTERNAL', supplierOrderId: '167539019420540000', supplierStatus: 'waitsellersend' });
  });

  it('accepts a lower-case signature', async () => {
    const body = `message=${encodeURIComponent(VECTOR_MESSAGE)}&_aop_signature=607268a312164b246810c1e4d054c0710d03d9fc`;
    expect((await push1688(vector.baseUrl, VECTOR_MESSAGE, { body })).status).toBe(200);
  });
});

describe('POST /webhooks/1688', () => {
  it('accepts the signature in the query string, as 1688 may send it', async () => {
    const form = new URLSearchParams(form1688(VECTOR_MESSAGE));
    const signature = form.get('_aop_signature') as string;
    const answer = await push1688(t.baseUrl, VECTOR_MESSAGE, {
      query: `_aop_signature=${signature}`,
      body: `message=${encodeURIComponent(VECTOR_MESSAGE)}`,
    });
    expect(answer.status).toBe(200);
  });

  it('keeps an 18-digit order id exactly, beyond what a double holds', async () => {
    const id = '167539019420540001'; // as a double this reads 167539019420540000
    expect(Number(id).toString()).not.toBe(id);
    expect((await push1688(t.baseUrl, orderMessage({ msgId: msgId(), orderId: id, status: 'waitbuyerpay' }))).status).toBe(200);
    const order = await eventually(() => orderBySupplierId(id), 10_000, 'order');
    expect(order.supplierOrderId).toBe(id);
    const single = await api(t.baseUrl, 'GET', `/orders/${order.id}`);
    expect(single.body.supplierOrderId).toBe(id);
  });

  it('applies the same msgId sent three times once', async () => {
    const id = supplierOrderId();
    const message = orderMessage({ msgId: msgId(), orderId: id, status: 'waitsellersend' });
    for (let i = 0; i < 3; i++) expect((await push1688(t.baseUrl, message)).status).toBe(200);
    const order = await eventually(() => orderBySupplierId(id), 10_000, 'order');
    // A later message proves the duplicates had their chance to be applied first.
    await push1688(t.baseUrl, orderMessage({ msgId: msgId(), orderId: id, status: 'waitbuyerreceive', gmtBorn: Date.now() + 1000 }));
    await eventually(async () => ((await orderBySupplierId(id))?.supplierStatus === 'waitbuyerreceive' ? true : undefined));
    const events = await eventsOf(order.id);
    expect(events.filter((e) => e.supplierStatus === 'waitsellersend')).toHaveLength(1);
    expect(events).toHaveLength(2);
  });

  it('ends with the newest status when messages arrive newest first, and records the older ones as ignored', async () => {
    const id = supplierOrderId();
    const lifecycle = ['waitbuyerpay', 'waitsellersend', 'waitbuyerreceive', 'confirm_goods', 'success'];
    const messages = lifecycle.map((status, i) =>
      orderMessage({ msgId: msgId(), orderId: id, status, sentAt: `2026-11-22 10:0${i}:00`, gmtBorn: Date.UTC(2026, 10, 22, 2, i) }),
    );
    for (const message of [...messages].reverse()) {
      expect((await push1688(t.baseUrl, message)).status).toBe(200);
      // One at a time, so that each lands in its own batch: the hard case for ordering.
      await eventually(async () => ((await orderBySupplierId(id)) ? true : undefined));
    }
    const order = await eventually(async () => {
      const found = await orderBySupplierId(id);
      return found && (await eventsOf(found.id)).length === 5 ? found : undefined;
    });
    expect(order).toMatchObject({ supplierStatus: 'success', supplierStatusAt: '2026-11-22T02:04:00.000Z' });
    const events = await eventsOf(order.id);
    expect(events.map((e) => e.outcome)).toEqual(['applied', 'ignored', 'ignored', 'ignored', 'ignored']);
    expect(events[1].reason).toMatch(/older than the current status success/);
  });

  it('applies 1,000 pushes sent concurrently', async () => {
    const ids = Array.from({ length: 1_000 }, () => supplierOrderId());
    // As 1688 does, a push whose connection failed is sent again (a thousand connections at
    // once can overflow a busy machine's accept queue); every one must end answered 2xx.
    const pushOnce = async (message: string) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await push1688(t.baseUrl, message);
        } catch (error) {
          if (attempt >= 3) throw error;
        }
      }
    };
    const answers = await Promise.all(ids.map((id) => pushOnce(orderMessage({ msgId: msgId(), orderId: id, status: 'waitsellersend' }))));
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    const applied = await eventually(
      async () => {
        const { rows } = await t.db.query(
          `SELECT count(*)::int AS n FROM orders WHERE supplier_order_id = ANY($1) AND supplier_status = 'waitsellersend'`,
          [ids],
        );
        return rows[0].n === 1_000 ? rows[0].n : undefined;
      },
      30_000,
      '1,000 orders applied',
    );
    expect(applied).toBe(1_000);
  });

  it("reads ORDER_BATCH_PAY's other shape", async () => {
    const [a, b] = [supplierOrderId(), supplierOrderId()];
    const message = `{"msgId":${msgId()},"type":"ORDER_BATCH_PAY","gmtBorn":${Date.now()},"data":{"batchPay":[{"orderId":${a},"status":"waitsellersend"},{"orderId":${b},"status":"waitsellersend"}]}}`;
    expect((await push1688(t.baseUrl, message)).status).toBe(200);
    await eventually(async () =>
      (await orderBySupplierId(a))?.supplierStatus === 'waitsellersend' && (await orderBySupplierId(b)) ? true : undefined,
    );
  });

  it('keeps an unknown currentStatus instead of rejecting it', async () => {
    const id = supplierOrderId();
    expect(
      (await push1688(t.baseUrl, orderMessage({ msgId: msgId(), orderId: id, status: 'confirm_goods_and_has_subsidy_v9' }))).status,
    ).toBe(200);
    await eventually(async () => ((await orderBySupplierId(id))?.supplierStatus === 'confirm_goods_and_has_subsidy_v9' ? true : undefined));
  });

  it('answers 2xx for a topic it does not act on, and records it', async () => {
    const id = msgId();
    const answer = await push1688(t.baseUrl, `{"msgId":${id},"type":"LOGISTICS_BUYER_VIEW_TRACE","gmtBorn":1,"data":{"foo":1}}`);
    expect(answer.status).toBe(200);
    const row = await eventually(async () => {
      const { rows } = await t.db.query(`SELECT outcome, reason FROM inbox_messages WHERE source = '1688' AND message_id = $1`, [
        String(id),
      ]);
      return rows[0];
    });
    expect(row).toMatchObject({ outcome: 'ignored', reason: expect.stringMatching(/not one the service acts on/) });
  });
});

describe('bad input to POST /webhooks/1688', () => {
  const good = () => orderMessage({ msgId: msgId(), orderId: supplierOrderId(), status: 'waitbuyerpay' });

  it.each([
    [
      'a wrong signature',
      () => ({ body: `message=${encodeURIComponent(VECTOR_MESSAGE)}&_aop_signature=607268A312164B246810C1E4D054C0710D03D9FD` }),
      401,
      /does not match/,
    ],
    ['no signature', () => ({ body: `message=${encodeURIComponent(VECTOR_MESSAGE)}` }), 401, /missing/],
    ['a signature made with another secret', () => ({ body: form1688(VECTOR_MESSAGE, 'not-the-secret') }), 401, /does not match/],
    ['an empty body', () => ({ body: '' }), 401, /missing/],
    ['message that is not JSON', () => ({ body: form1688('{"msgId":') }), 400, /not valid JSON/],
    ['a message without msgId', () => ({ body: form1688('{"type":"ORDER_X","data":{"orderId":1}}') }), 400, /invalid 1688 message/],
    ['a message without type', () => ({ body: form1688('{"msgId":1,"data":{"orderId":1}}') }), 400, /invalid 1688 message/],
    [
      'data of the wrong shape',
      () => ({ body: form1688('{"msgId":1,"type":"ORDER_BUYER_VIEW_ORDER_PAY","data":{"orderId":"x"}}') }),
      400,
      /invalid/,
    ],
    ['a signed empty message', () => ({ body: form1688('') }), 400, /message is required/],
    ['message given twice', () => ({ body: `${form1688(VECTOR_MESSAGE)}&message=x` }), 401, /does not match/],
  ])('answers %s with a 4xx and a JSON error', async (_name, make, status, message) => {
    const answer = await push1688(t.baseUrl, '', make());
    expect(answer.status).toBe(status);
    expect(answer.contentType).toMatch(/application\/json/);
    expect(JSON.stringify(answer.body)).toMatch(message);
  });

  it('answers 415 to a JSON body', async () => {
    const answer = await push1688(t.baseUrl, '', { contentType: 'application/json', body: JSON.stringify({ message: good() }) });
    expect(answer.status).toBe(415);
    expect(answer.contentType).toMatch(/application\/json/);
  });

  it('answers 413 to a body over the limit', async () => {
    const answer = await push1688(t.baseUrl, '', { body: `message=${'x'.repeat(t.config.bodyLimitBytes + 10)}` });
    expect(answer.status).toBe(413);
    expect(answer.contentType).toMatch(/application\/json/);
  });

  it('treats SQL and unicode in ids as data', async () => {
    const sqlMsgId = `{"msgId":"1; DROP TABLE orders; --","type":"ORDER_X","data":{"orderId":1}}`;
    expect((await push1688(t.baseUrl, '', { body: form1688(sqlMsgId) })).status).toBe(400);
    const answer = await pushGeneric(
      t.baseUrl,
      JSON.stringify({
        eventId: "ev-'; DROP TABLE orders; --",
        orderId: "订单-'; DELETE FROM orders; --🚀",
        status: '已发货',
        occurredAt: new Date().toISOString(),
      }),
    );
    expect(answer.status).toBe(200);
    const order = await eventually(async () => {
      const found = await api(t.baseUrl, 'GET', `/orders/${encodeURIComponent("订单-'; DELETE FROM orders; --🚀")}`);
      return found.status === 200 ? found.body : undefined;
    });
    expect(order).toMatchObject({ status: 'EXTERNAL', supplierStatus: '已发货' });
  });
});

describe('POST /webhooks/orders', () => {
  const event = (overrides: Record<string, unknown> = {}) =>
    JSON.stringify({
      eventId: `ev-${msgId()}`,
      orderId: `G-${msgId()}`,
      status: 'shipped',
      occurredAt: new Date().toISOString(),
      ...overrides,
    });

  it('accepts a signed event and applies it', async () => {
    const body = event({ orderId: 'G-applied', supplierOrderId: 'S-77' });
    expect((await pushGeneric(t.baseUrl, body)).status).toBe(200);
    const order = await eventually(async () => {
      const found = await api(t.baseUrl, 'GET', '/orders/G-applied');
      return found.status === 200 ? found.body : undefined;
    });
    expect(order).toMatchObject({ supplierOrderId: 'S-77', supplierStatus: 'shipped' });
  });

  it.each([
    ['a wrong signature', () => ({ signature: 'sha256=00' }), 401],
    ['a malformed signature header', () => ({ signature: 'md5=abc' }), 401],
    ['a timestamp 301 s old (replay)', () => ({ timestamp: Math.floor(Date.now() / 1000) - 301 }), 401],
    ['a timestamp 302 s ahead', () => ({ timestamp: Math.ceil(Date.now() / 1000) + 302 }), 401],
    ['another secret', () => ({ secret: 'nope' }), 401],
  ])('refuses %s', async (_name, options, status) => {
    const answer = await pushGeneric(t.baseUrl, event(), options());
    expect(answer.status).toBe(status);
    expect(answer.body).toMatchObject({ statusCode: status });
  });

  it.each([
    ['a missing eventId', { eventId: undefined }],
    ['a numeric orderId', { orderId: 12 }],
    ['a bad occurredAt', { occurredAt: 'yesterday' }],
    ['an unknown field', { extra: true }],
    ['a control character in orderId', { orderId: 'a\u0000b' }],
  ])('answers 400 to %s', async (_name, overrides) => {
    const answer = await pushGeneric(t.baseUrl, event(overrides));
    expect(answer.status).toBe(400);
    expect(answer.body.message).toBeDefined();
  });

  it('answers 400 to a body that is not JSON', async () => {
    const answer = await pushGeneric(t.baseUrl, '{"eventId":');
    expect(answer.status).toBe(400);
  });
});
