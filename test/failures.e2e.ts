import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPLY_MESSAGE_JOB, ORDER_EVENTS_DLQ, ORDER_EVENTS_QUEUE, orderEventJobId, type ApplyMessageJob } from '../src/queues/order-events.queue.js';
import { orderMessage, push1688 } from './support/http.js';
import { eventually, startTestService, TEST_REDIS_URL, type TestService } from './support/service.js';

let t: TestService;
let events: Queue<ApplyMessageJob>;
let deadLetters: Queue;

beforeAll(async () => {
  t = await startTestService('failures');
  events = new Queue(ORDER_EVENTS_QUEUE, { connection: { url: TEST_REDIS_URL }, prefix: t.config.queuePrefix });
  deadLetters = new Queue(ORDER_EVENTS_DLQ, { connection: { url: TEST_REDIS_URL }, prefix: t.config.queuePrefix });
});
afterAll(async () => {
  await events?.close();
  await deadLetters?.close();
  await t?.stop();
});

const job = (messageId: string, occurredAt: string, supplierOrderId: string): ApplyMessageJob => ({
  source: '1688',
  messageId,
  topic: 'ORDER_BUYER_VIEW_ORDER_PAY',
  receivedAt: new Date().toISOString(),
  body: '{}',
  changes: [{ orderId: null, supplierOrderId, status: 'waitsellersend', occurredAt, bornAt: 1 }],
  ignoredReason: null,
});

describe('order-events failures', () => {
  it('dead-letters a message that can never be applied, with its reason, while the rest of its batch lands', async () => {
    const bad = job('bad-1', 'not a date', '900001');
    const good = job('good-1', new Date().toISOString(), '900002');
    await events.addBulk([bad, good].map((data) => ({ name: APPLY_MESSAGE_JOB, data, opts: { jobId: orderEventJobId('1688', data.messageId), attempts: 3 } })));

    const dead = await eventually(async () => (await deadLetters.getJob(orderEventJobId('1688', 'bad-1'))) ?? undefined, 15_000, 'dead letter');
    expect(dead.data).toMatchObject({ queue: ORDER_EVENTS_QUEUE, data: { messageId: 'bad-1' }, failedReason: expect.stringMatching(/cannot apply message/) });
    // A data error is final: it is not retried.
    expect(dead.data.attemptsMade).toBe(1);
    const failed = await events.getJob(orderEventJobId('1688', 'bad-1'));
    expect(await failed?.getState()).toBe('failed');

    await eventually(async () => {
      const { rows } = await t.db.query(`SELECT 1 FROM orders WHERE supplier_order_id = '900002'`);
      return rows.length === 1 ? true : undefined;
    });
  });

  it('retries a message whose database connection died, with backoff, and applies it once', async () => {
    const locker = await t.db.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE inbox_messages IN ACCESS EXCLUSIVE MODE');
      const message = orderMessage({ msgId: 424242, orderId: '900003', status: 'waitbuyerpay' });
      expect((await push1688(t.baseUrl, message)).status).toBe(200);
      // The worker's transaction waits on the lock; kill its connection as a failing Postgres would.
      await eventually(async () => {
        const { rows } = await t.db.query(
          `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
        );
        return rows.length > 0 ? true : undefined;
      });
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
    }
    const applied = await eventually(async () => {
      const j = await events.getJob(orderEventJobId('1688', '424242'));
      return (await j?.getState()) === 'completed' ? j : undefined;
    }, 20_000, 'retried message');
    expect(applied?.attemptsMade).toBeGreaterThanOrEqual(1);
    const { rows } = await t.db.query(`SELECT count(*)::int AS n FROM order_events WHERE message_id = '424242'`);
    expect(rows[0].n).toBe(1);
    expect(await deadLetters.getJob(orderEventJobId('1688', '424242'))).toBeUndefined();
  });
});

describe('Redis unreachable', () => {
  let down: TestService;
  beforeAll(async () => {
    down = await startTestService('redisdown', { ROLE: 'api', REDIS_URL: 'redis://127.0.0.1:1', ENQUEUE_TIMEOUT_MS: '1000' });
  });
  afterAll(async () => {
    await down?.stop();
  });

  it('answers 503 quickly, so that 1688 sends the message again', async () => {
    const started = Date.now();
    const answer = await push1688(down.baseUrl, orderMessage({ msgId: 1, orderId: '900004', status: 'waitbuyerpay' }));
    expect(answer.status).toBe(503);
    expect(answer.body.message).toMatch(/could not be queued/);
    expect(Date.now() - started).toBeLessThan(1_500);
  });
});
