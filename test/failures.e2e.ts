import { Queue } from 'bullmq';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadLetterQueueOf } from '../src/queues/queue-catalog.js';
import { APPLY_MESSAGES_JOB, ORDER_EVENTS_QUEUE, type ApplyMessagesJob, type InboundMessage } from '../src/queues/order-events.queue.js';
import { api, orderMessage, push1688 } from './support/http.js';
import { ADMIN_DATABASE_URL, eventually, startTestService, TEST_REDIS_URL, type TestService } from './support/service.js';

let t: TestService;
let events: Queue<ApplyMessagesJob>;
let deadLetters: Queue;

beforeAll(async () => {
  t = await startTestService('failures');
  events = new Queue(ORDER_EVENTS_QUEUE, { connection: { url: TEST_REDIS_URL }, prefix: t.config.queuePrefix });
  deadLetters = new Queue(deadLetterQueueOf(ORDER_EVENTS_QUEUE), { connection: { url: TEST_REDIS_URL }, prefix: t.config.queuePrefix });
});
afterAll(async () => {
  await events?.close();
  await deadLetters?.close();
  await t?.stop();
});

const message = (messageId: string, occurredAt: string, supplierOrderId: string): InboundMessage => ({
  source: '1688',
  messageId,
  topic: 'ORDER_BUYER_VIEW_ORDER_PAY',
  receivedAt: new Date().toISOString(),
  body: '{}',
  changes: [{ orderId: null, supplierOrderId, status: 'waitsellersend', occurredAt, bornAt: 1 }],
  ignoredReason: null,
});

async function inboxRow(messageId: string) {
  const { rows } = await t.db.query(`SELECT outcome, reason FROM inbox_messages WHERE message_id = $1`, [messageId]);
  return rows[0] as { outcome: string; reason: string | null } | undefined;
}

describe('order-events failures', () => {
  it('records a message whose content cannot be applied as ignored, with its reason, in its order history; the rest lands; nothing is dead-lettered', async () => {
    // An order for the bad message's supplier order exists, so its history can show why.
    await push1688(t.baseUrl, orderMessage({ msgId: 4100, orderId: '900001', status: 'waitbuyerpay' }));
    await eventually(async () => ((await inboxRow('4100')) ? true : undefined));
    const job = await events.add(
      APPLY_MESSAGES_JOB,
      { messages: [message('bad-1', 'not a date', '900001'), message('good-1', new Date().toISOString(), '900002')] },
      { jobId: 'batch-content', attempts: 3 },
    );

    const bad = await eventually(() => inboxRow('bad-1'), 15_000, 'bad message recorded');
    expect(bad).toMatchObject({
      outcome: 'ignored',
      reason: expect.stringMatching(/cannot be applied: its time "not a date" is not a date/),
    });
    await eventually(async () =>
      (await t.db.query(`SELECT 1 FROM orders WHERE supplier_order_id = '900002'`)).rows.length === 1 ? true : undefined,
    );
    const history = await t.db.query(
      `SELECT outcome, reason FROM order_history h JOIN orders o ON o.id = h.order_id WHERE o.supplier_order_id = '900001' AND h.message_id = 'bad-1'`,
    );
    expect(history.rows).toEqual([{ outcome: 'ignored', reason: expect.stringMatching(/not a date/) }]);
    expect(await (await events.getJob(job.id as string))?.getState()).toBe('completed');
    expect(await deadLetters.getJobCounts()).toMatchObject({ waiting: 0 });
  });

  it('isolates a message that Postgres refuses (NUL in an id): recorded as ignored, its neighbours applied', async () => {
    const refused = message('nul-1', new Date().toISOString(), '9000\u000003');
    const job = await events.add(
      APPLY_MESSAGES_JOB,
      {
        messages: [
          message('n-good-1', new Date().toISOString(), '900004'),
          refused,
          message('n-good-2', new Date().toISOString(), '900005'),
        ],
      },
      { jobId: 'batch-nul' },
    );
    const row = await eventually(() => inboxRow('nul-1'), 15_000, 'refused message recorded');
    expect(row).toMatchObject({ outcome: 'ignored', reason: expect.stringMatching(/cannot be applied/) });
    // The halves are applied one after the other: the neighbour after the refused one may land later.
    await eventually(async () => ((await (await events.getJob(job.id as string))?.getState()) === 'completed' ? true : undefined));
    expect((await t.db.query(`SELECT count(*)::int AS n FROM orders WHERE supplier_order_id IN ('900004', '900005')`)).rows[0].n).toBe(2);
  });

  it('takes a job back without using an attempt when its database connection dies, and applies it once', async () => {
    const locker = await t.db.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE inbox_messages IN ACCESS EXCLUSIVE MODE');
      expect((await push1688(t.baseUrl, orderMessage({ msgId: 424242, orderId: '900003', status: 'waitbuyerpay' }))).status).toBe(200);
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
    const applied = await eventually(
      async () => {
        const completed = await events.getJobs(['completed'], 0, -1);
        return completed.find((j) => j.data.messages.some((m) => m.messageId === '424242'));
      },
      20_000,
      'retried message',
    );
    // Started twice (or more), yet only the completing attempt counts: the outage used none.
    expect(applied.attemptsStarted).toBeGreaterThanOrEqual(2);
    expect(applied.attemptsMade).toBe(1);
    const { rows } = await t.db.query(`SELECT count(*)::int AS n FROM order_history WHERE message_id = '424242'`);
    expect(rows[0].n).toBe(1);
    expect(await deadLetters.getJobCounts()).toMatchObject({ waiting: 0 });
  });
});

describe('connections lost between the statements of a transaction', () => {
  let cut: TestService;
  beforeAll(async () => {
    cut = await startTestService('pgcut', { ROLE: 'all' });
  });
  afterAll(async () => {
    await cut?.stop();
  });

  it('never records an acknowledged push as ignored because TypeORM released its query runner; every push lands once', async () => {
    // Postgres ends any session idle inside a transaction for over 1 ms: the service's batches
    // lose their connection between statements, which TypeORM reports as a released query runner.
    const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    const name = cut.config.databaseUrl.split('/').pop() as string;
    const total = 120;
    try {
      await admin.query(`ALTER DATABASE "${name}" SET idle_in_transaction_session_timeout = '1ms'`);
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'ordersync'`, [
        name,
      ]);
      for (let i = 0; i < total; i++) {
        const answer = await push1688(
          cut.baseUrl,
          orderMessage({ msgId: 77000 + i, orderId: `92000000000000${i % 40}`, status: i < 40 ? 'waitbuyerpay' : 'waitsellersend' }),
        );
        expect(answer.status).toBe(200);
      }
      // The cuts must really have happened for this test to mean anything.
      await eventually(
        async () => {
          const metrics = await (await fetch(`${cut.baseUrl}/metrics`)).text();
          const deferred = /ordersync_jobs_deferred_total\{queue="order-events[^"]*",reason="infrastructure"\} (\d+)/.exec(metrics);
          return deferred && Number(deferred[1]) >= 1 ? true : undefined;
        },
        20_000,
        'batches deferred by lost connections',
      );
    } finally {
      await admin.query(`ALTER DATABASE "${name}" RESET idle_in_transaction_session_timeout`);
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'ordersync'`, [
        name,
      ]);
      await admin.end();
    }
    await eventually(
      async () => ((await cut.db.query(`SELECT count(*)::int AS n FROM inbox_messages`)).rows[0].n === total ? true : undefined),
      30_000,
      'every push in the inbox',
    );
    const ignored = await cut.db.query(`SELECT message_id, reason FROM inbox_messages WHERE outcome <> 'applied'`);
    expect(ignored.rows).toEqual([]);
    const statuses = await cut.db.query(
      `SELECT supplier_status, count(*)::int AS n FROM orders WHERE supplier_order_id LIKE '92000000000000%' GROUP BY 1`,
    );
    expect(statuses.rows).toEqual([{ supplier_status: 'waitsellersend', n: 40 }]);
    const failed = new Queue(ORDER_EVENTS_QUEUE, { connection: { url: TEST_REDIS_URL }, prefix: cut.config.queuePrefix });
    try {
      expect(await failed.getFailedCount()).toBe(0);
    } finally {
      await failed.close();
    }
  });
});

describe('a Postgres that refuses connections for longer than the attempts would last', () => {
  let short: TestService;
  beforeAll(async () => {
    short = await startTestService('pgaway', { ROLE: 'all' });
  });
  afterAll(async () => {
    await short?.stop();
  });

  it('pauses the workers, dead-letters nothing, and applies everything once Postgres is back', async () => {
    const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    const name = short.config.databaseUrl.split('/').pop() as string;
    await admin.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`);
    // The service's connections only (application_name ordersync), not this test's.
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'ordersync'`, [
      name,
    ]);
    const acked: number[] = [];
    try {
      for (let i = 0; i < 30; i++) {
        const answer = await push1688(
          short.baseUrl,
          orderMessage({ msgId: 8800 + i, orderId: `91000000000000${i % 10}`, status: 'waitsellersend' }),
        );
        if (answer.status === 200) acked.push(8800 + i);
      }
      expect(acked.length).toBe(30);
      // Taking webhooks needs no Postgres: still ready; /orders says the database is away.
      expect((await api(short.baseUrl, 'GET', '/health/ready', undefined, null)).status).toBe(200);
      const orders = await api(short.baseUrl, 'GET', '/orders');
      expect(orders).toMatchObject({ status: 503, body: { message: expect.stringMatching(/database is unavailable/) } });
      // Well past what 8 attempts with backoff would allow if each try used one (1+2+4+... s).
      const queue = new Queue(ORDER_EVENTS_QUEUE, { connection: { url: TEST_REDIS_URL }, prefix: short.config.queuePrefix });
      try {
        await eventually(
          async () => {
            const metrics = await (await fetch(`${short.baseUrl}/metrics`)).text();
            const deferred = /ordersync_jobs_deferred_total\{queue="order-events",reason="infrastructure"\} (\d+)/.exec(metrics);
            return deferred && Number(deferred[1]) >= 1 ? true : undefined;
          },
          20_000,
          'jobs deferred',
        );
        const jobs = await queue.getJobs(['waiting', 'delayed', 'active', 'failed']);
        expect(jobs.every((job) => job.attemptsMade === 0)).toBe(true);
        expect(await queue.getFailedCount()).toBe(0);
      } finally {
        await queue.close();
      }
    } finally {
      await admin.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS true`);
      await admin.end();
    }
    await eventually(
      async () => ((await short.db.query(`SELECT count(*)::int AS n FROM inbox_messages`)).rows[0].n === 30 ? true : undefined),
      30_000,
      'every acknowledged message applied',
    );
    const dlq = new Queue(deadLetterQueueOf(ORDER_EVENTS_QUEUE), { connection: { url: TEST_REDIS_URL }, prefix: short.config.queuePrefix });
    try {
      expect(await dlq.getWaitingCount()).toBe(0);
    } finally {
      await dlq.close();
    }
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
