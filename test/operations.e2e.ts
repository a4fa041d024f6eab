import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadLetterQueueOf, queueSpecs } from '../src/queues/queue-catalog.js';
import { APPLY_MESSAGES_JOB, ORDER_EVENTS_QUEUE, type ApplyMessagesJob } from '../src/queues/order-events.queue.js';
import { api, orderMessage, push1688 } from './support/http.js';
import { ADMIN_KEY, API_KEY, eventually, startTestService, TEST_REDIS_URL, type TestService } from './support/service.js';

const ORDER_EVENTS_DLQ = deadLetterQueueOf(ORDER_EVENTS_QUEUE);

let t: TestService;

beforeAll(async () => {
  t = await startTestService('operations');
});
afterAll(async () => {
  await t?.stop();
});

function deadLetter(messageId: string, supplierOrderId: string) {
  const data: ApplyMessagesJob = {
    messages: [
      {
        source: '1688',
        messageId,
        topic: 'ORDER_BUYER_VIEW_ORDER_PAY',
        receivedAt: new Date().toISOString(),
        body: '{}',
        changes: [{ orderId: null, supplierOrderId, status: 'waitsellersend', occurredAt: new Date().toISOString(), bornAt: 1 }],
        ignoredReason: null,
      },
    ],
  };
  const jobId = `batch-${messageId}`;
  return {
    jobId,
    letter: {
      queue: ORDER_EVENTS_QUEUE,
      jobId,
      name: APPLY_MESSAGES_JOB,
      data,
      attemptsMade: 8,
      failedReason: 'a bug',
      failedAt: new Date().toISOString(),
    },
  };
}

/** Parses Prometheus text into series → value, failing on any line that is not the format. */
function parsePrometheus(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(line);
    if (!match) throw new Error(`not Prometheus text: ${line}`);
    series.set(match[1], Number(match[2]));
  }
  return series;
}

describe('health', () => {
  it('live answers without checking anything; ready checks what the role needs', async () => {
    expect(await api(t.baseUrl, 'GET', '/health/live', undefined, null)).toMatchObject({ status: 200, body: { status: 'ok' } });
    const ready = await api(t.baseUrl, 'GET', '/health/ready', undefined, null);
    expect(ready.status).toBe(200);
    expect(ready.body.details).toMatchObject({ lifecycle: { status: 'up', role: 'all' }, redis: { status: 'up' } });
    // Fleet-wide state is not readiness.
    expect(ready.body.details.backlog).toBeUndefined();
  });

  it('is not ready when Redis cannot be reached, and says so quickly', async () => {
    const down = await startTestService('ops_redis_down', { REDIS_URL: 'redis://127.0.0.1:1', ENQUEUE_TIMEOUT_MS: '200' });
    try {
      const started = Date.now();
      const ready = await api(down.baseUrl, 'GET', '/health/ready', undefined, null);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(ready.status).toBe(503);
      expect(ready.body.details).toMatchObject({ redis: { status: 'down' } });
      expect((await api(down.baseUrl, 'GET', '/health/live', undefined, null)).status).toBe(200);
      const queues = await api(down.baseUrl, 'GET', '/queues', undefined, null);
      expect(queues.status).toBe(503);
      expect(Date.now() - started).toBeLessThan(8_000);
      expect((await api(down.baseUrl, 'GET', '/health/backlog', undefined, null)).status).toBe(503);
    } finally {
      await down.stop();
    }
  });

  it('stays ready over any backlog; /health/backlog is 503 over BACKLOG_MAX_WAITING and 200 once it drains', async () => {
    // An API-only instance: nothing applies the messages, so they wait in the queue.
    const apiOnly = await startTestService('ops_backlog', { ROLE: 'api', BACKLOG_MAX_WAITING: '5', PUBLISH_BATCH_WINDOW_MS: '0' });
    try {
      for (let i = 0; i < 8; i++)
        expect(
          (await push1688(apiOnly.baseUrl, orderMessage({ msgId: 7000 + i, orderId: `88800000000000${i}`, status: 'waitbuyerpay' })))
            .status,
        ).toBe(200);
      const queues = await eventually(async () => {
        const answer = await api(apiOnly.baseUrl, 'GET', '/queues', undefined, null);
        const events = answer.body.queues.find((q: { name: string }) => q.name === ORDER_EVENTS_QUEUE);
        return events?.waiting === 8 ? answer : undefined;
      });
      expect(queues.body.queues.find((q: { name: string }) => q.name === ORDER_EVENTS_QUEUE)).toMatchObject({
        waiting: 8,
        active: 0,
        deadLettered: 0,
        oldestWaitingAgeMs: expect.any(Number),
      });
      expect((await api(apiOnly.baseUrl, 'GET', '/health/ready', undefined, null)).status).toBe(200);
      const backlog = await eventually(async () => {
        const answer = await api(apiOnly.baseUrl, 'GET', '/health/backlog', undefined, null);
        return answer.status === 503 ? answer : undefined;
      });
      expect(backlog.body.details.backlog).toMatchObject({
        status: 'down',
        maxWaiting: 5,
        over: [{ queue: ORDER_EVENTS_QUEUE, waiting: 8 }],
      });
      // ROLE=api ran no job: nothing was applied and no worker listens on any queue.
      const events = new Queue(ORDER_EVENTS_QUEUE, { connection: { url: TEST_REDIS_URL }, prefix: apiOnly.config.queuePrefix });
      try {
        expect(await events.getWorkersCount()).toBe(0);
        await events.drain();
      } finally {
        await events.close();
      }
      expect((await apiOnly.db.query(`SELECT count(*)::int AS n FROM inbox_messages`)).rows[0].n).toBe(0);
      await eventually(async () =>
        (await api(apiOnly.baseUrl, 'GET', '/health/backlog', undefined, null)).status === 200 ? true : undefined,
      );
    } finally {
      await apiOnly.stop();
    }
  });

  it('a dead letter, however old, makes no process unready and no backlog', async () => {
    const deadLetters = new Queue(ORDER_EVENTS_DLQ, { connection: { url: TEST_REDIS_URL }, prefix: t.config.queuePrefix });
    try {
      const { jobId, letter } = deadLetter('old-1', '777000000000099');
      await deadLetters.add(APPLY_MESSAGES_JOB, letter, { jobId, timestamp: Date.now() - 7 * 24 * 3_600_000 });
      await eventually(async () =>
        (await api(t.baseUrl, 'GET', '/queues', undefined, null)).body.queues.find((q: { name: string }) => q.name === ORDER_EVENTS_DLQ)
          ?.waiting === 1
          ? true
          : undefined,
      );
      expect((await api(t.baseUrl, 'GET', '/health/ready', undefined, null)).status).toBe(200);
      expect((await api(t.baseUrl, 'GET', '/health/backlog', undefined, null)).status).toBe(200);
    } finally {
      await deadLetters.obliterate({ force: true });
      await deadLetters.close();
    }
  });
});

describe('GET /queues', () => {
  it('lists every work and dead-letter queue with the contract fields, counts matching the jobs put there', async () => {
    const deadLetters = new Queue(ORDER_EVENTS_DLQ, { connection: { url: TEST_REDIS_URL }, prefix: t.config.queuePrefix });
    try {
      for (const n of [1, 2, 3]) {
        const { jobId, letter } = deadLetter(`q-${n}`, `77700000000000${n}`);
        await deadLetters.add(APPLY_MESSAGES_JOB, letter, { jobId });
      }
      const answer = await eventually(async () => {
        const got = await api(t.baseUrl, 'GET', '/queues', undefined, null);
        return got.body.queues?.find((q: { name: string }) => q.name === ORDER_EVENTS_DLQ)?.waiting === 3 ? got : undefined;
      });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ asOf: expect.any(String), snapshotAgeMs: expect.any(Number) });
      expect(answer.body.queues.map((q: { name: string }) => q.name).sort()).toEqual(
        queueSpecs({ orderEventsPartitions: 1 })
          .map((q) => q.name)
          .sort(),
      );
      for (const queue of answer.body.queues) {
        expect(Object.keys(queue).sort()).toEqual(['active', 'deadLettered', 'delayed', 'failed', 'name', 'oldestWaitingAgeMs', 'waiting']);
      }
      const byName = new Map(answer.body.queues.map((q: { name: string }) => [q.name, q]));
      expect(byName.get(ORDER_EVENTS_QUEUE)).toMatchObject({ deadLettered: 3 });
      expect(byName.get(ORDER_EVENTS_DLQ)).toMatchObject({ waiting: 3, deadLettered: 3 });
    } finally {
      await deadLetters.obliterate({ force: true });
      await deadLetters.close();
    }
  });
});

describe('dead-letter routes', () => {
  it('list, retry one (applied with its original id; a second retry finds nothing), retry all, delete one', async () => {
    const deadLetters = new Queue(ORDER_EVENTS_DLQ, { connection: { url: TEST_REDIS_URL }, prefix: t.config.queuePrefix });
    try {
      const letters = ['dl-1', 'dl-2', 'dl-3', 'dl-4'].map((id, i) => deadLetter(id, `66600000000000${i}`));
      for (const { jobId, letter } of letters) await deadLetters.add(APPLY_MESSAGES_JOB, letter, { jobId });

      const list = await api(t.baseUrl, 'GET', `/queues/${ORDER_EVENTS_QUEUE}/dead-letters`);
      expect(list.status).toBe(200);
      expect(list.body.total).toBe(4);
      expect(list.body.items[0]).toMatchObject({ jobId: expect.stringMatching(/^batch-dl-/), failedReason: 'a bug', attemptsMade: 8 });

      // Acting on dead letters needs an admin key; a client key may only look.
      expect((await api(t.baseUrl, 'POST', `/queues/${ORDER_EVENTS_QUEUE}/dead-letters/batch-dl-1/retry`, {}, API_KEY)).status).toBe(403);
      const retried = await api(t.baseUrl, 'POST', `/queues/${ORDER_EVENTS_QUEUE}/dead-letters/batch-dl-1/retry`, {}, ADMIN_KEY);
      expect(retried).toMatchObject({ status: 200, body: { retried: 'batch-dl-1' } });
      expect((await api(t.baseUrl, 'POST', `/queues/${ORDER_EVENTS_QUEUE}/dead-letters/batch-dl-1/retry`, {}, ADMIN_KEY)).status).toBe(404);
      await eventually(async () =>
        (await t.db.query(`SELECT 1 FROM inbox_messages WHERE message_id = 'dl-1'`)).rows.length === 1 ? true : undefined,
      );

      expect((await api(t.baseUrl, 'DELETE', `/queues/${ORDER_EVENTS_DLQ}/dead-letters/batch-dl-4`, undefined, API_KEY)).status).toBe(403);
      expect((await api(t.baseUrl, 'DELETE', `/queues/${ORDER_EVENTS_DLQ}/dead-letters/batch-dl-4`, undefined, ADMIN_KEY)).status).toBe(
        200,
      );
      expect((await api(t.baseUrl, 'DELETE', `/queues/${ORDER_EVENTS_DLQ}/dead-letters/batch-dl-4`, undefined, ADMIN_KEY)).status).toBe(
        404,
      );

      expect((await api(t.baseUrl, 'POST', `/queues/${ORDER_EVENTS_QUEUE}/dead-letters/retry-all`, {}, API_KEY)).status).toBe(403);
      const all = await api(t.baseUrl, 'POST', `/queues/${ORDER_EVENTS_QUEUE}/dead-letters/retry-all`, {}, ADMIN_KEY);
      expect(all.body).toEqual({ retried: 2, failed: [] });
      await eventually(async () =>
        (await t.db.query(`SELECT 1 FROM inbox_messages WHERE message_id IN ('dl-2', 'dl-3')`)).rows.length === 2 ? true : undefined,
      );
      expect((await t.db.query(`SELECT 1 FROM inbox_messages WHERE message_id = 'dl-4'`)).rows).toEqual([]);
      expect((await api(t.baseUrl, 'GET', `/queues/${ORDER_EVENTS_QUEUE}/dead-letters`)).body.total).toBe(0);
      expect((await api(t.baseUrl, 'GET', `/queues/no-such-queue/dead-letters`)).status).toBe(404);
    } finally {
      await deadLetters.close();
    }
  });
});

describe('GET /metrics', () => {
  it('is Prometheus text whose counters move with the traffic', async () => {
    const before = parsePrometheus((await api(t.baseUrl, 'GET', '/metrics', undefined, null)).body);
    const accepted = 'ordersync_webhook_messages_total{source="1688",outcome="accepted",reason=""}';
    const rejected = 'ordersync_webhook_messages_total{source="1688",outcome="rejected",reason="signature"}';
    const applied = 'ordersync_messages_applied_total{source="1688",outcome="applied"}';
    for (let i = 0; i < 3; i++)
      await push1688(t.baseUrl, orderMessage({ msgId: 5550 + i, orderId: `55500000000000${i}`, status: 'waitbuyerpay' }));
    await push1688(t.baseUrl, orderMessage({ msgId: 5559, orderId: '555000000000009', status: 'waitbuyerpay' }), { secret: 'wrong' });
    const after = await eventually(async () => {
      const now = parsePrometheus((await api(t.baseUrl, 'GET', '/metrics', undefined, null)).body);
      return (now.get(applied) ?? 0) - (before.get(applied) ?? 0) >= 3 ? now : undefined;
    });
    expect((after.get(accepted) ?? 0) - (before.get(accepted) ?? 0)).toBe(3);
    expect((after.get(rejected) ?? 0) - (before.get(rejected) ?? 0)).toBe(1);
    expect(
      after.get('ordersync_http_request_duration_seconds_count{method="POST",route="/webhooks/1688",status_code="200"}'),
    ).toBeGreaterThanOrEqual(3);
    expect(after.get('ordersync_queue_jobs{queue="order-events",state="waiting",scope="fleet"}')).toEqual(expect.any(Number));
    // Node's own metrics under their standard names.
    expect(after.get('process_cpu_user_seconds_total')).toEqual(expect.any(Number));
    expect(after.get('nodejs_heap_size_used_bytes')).toEqual(expect.any(Number));
    expect(after.get('ordersync_db_pool_connections{state="in_use"}')).toEqual(expect.any(Number));
    // The pool's size, so that saturation is in_use ÷ max.
    expect(after.get('ordersync_db_pool_connections{state="max"}')).toBe(t.config.databasePoolMax);
    // Dead letters counted once: on the work queue's row, not again on the dead-letter queue's own.
    expect(after.get('ordersync_queue_jobs{queue="order-events",state="dead_lettered",scope="fleet"}')).toEqual(expect.any(Number));
    expect([...after.keys()].filter((key) => /queue="[^"]*-dead",state="dead_lettered"/.test(key))).toEqual([]);
    expect(after.get('ordersync_supplier_status_lag_seconds_count')).toBeGreaterThanOrEqual(3);
    expect(
      [...after.keys()].some((key) => key.startsWith('ordersync_job_duration_seconds_count{queue="order-events",outcome="completed"}')),
    ).toBe(true);
  });
});

describe('protected routes', () => {
  it.each([
    ['GET', '/orders'],
    ['POST', '/orders'],
    ['POST', '/orders/batch'],
    ['GET', '/orders/x'],
    ['GET', '/orders/x/events'],
    ['POST', '/dispatch/run'],
    ['GET', '/queues/order-events/dead-letters'],
    ['POST', '/queues/order-events/dead-letters/x/retry'],
    ['POST', '/queues/order-events/dead-letters/retry-all'],
    ['DELETE', '/queues/order-events/dead-letters/x'],
    ['GET', '/admin/queues'],
    ['GET', '/admin/queues/api/queues'],
  ])('%s %s answers 401 without an API key, and with a wrong one', async (method, path) => {
    expect((await api(t.baseUrl, method, path, method === 'GET' || method === 'DELETE' ? undefined : {}, null)).status).toBe(401);
    expect((await api(t.baseUrl, method, path, method === 'GET' || method === 'DELETE' ? undefined : {}, 'wrong-key')).status).toBe(401);
  });

  it.each([
    ['POST', '/dispatch/run'],
    ['POST', '/queues/order-events/dead-letters/x/retry'],
    ['POST', '/queues/order-events/dead-letters/retry-all'],
    ['DELETE', '/queues/order-events/dead-letters/x'],
    ['GET', '/admin/queues'],
    ['GET', '/admin/queues/api/queues'],
    ['PUT', '/admin/queues/api/queues/order-events/empty'],
  ])('%s %s answers 403 to a client key (API_KEYS): operators only', async (method, path) => {
    expect((await api(t.baseUrl, method, path, method === 'GET' || method === 'DELETE' ? undefined : {}, API_KEY)).status).toBe(403);
  });

  it('serves the dashboard to an admin key, also as a basic-auth password', async () => {
    expect((await api(t.baseUrl, 'GET', '/admin/queues', undefined, ADMIN_KEY)).status).toBe(200);
    const basic = await fetch(`${t.baseUrl}/admin/queues/api/queues`, {
      headers: { authorization: `Basic ${Buffer.from(`ops:${ADMIN_KEY}`).toString('base64')}` },
    });
    expect(basic.status).toBe(200);
  });

  it('serves the OpenAPI document', async () => {
    const docs = await api(t.baseUrl, 'GET', '/docs-json', undefined, null);
    expect(docs.status).toBe(200);
    expect(Object.keys(docs.body.paths)).toEqual(
      expect.arrayContaining(['/webhooks/1688', '/webhooks/orders', '/orders', '/orders/{id}', '/dispatch/run', '/queues']),
    );
    // The webhooks' error answers and the real DTOs are in the document.
    expect(Object.keys(docs.body.paths['/webhooks/1688'].post.responses).sort()).toEqual(['200', '400', '401', '413', '415', '503']);
    expect(Object.keys(docs.body.components.schemas.GenericOrderEventDto.properties).sort()).toEqual([
      'eventId',
      'occurredAt',
      'orderId',
      'status',
      'supplierOrderId',
    ]);
  });

  it('gives every request an id, sent back as X-Request-Id (kept when the caller sends one)', async () => {
    const given = await fetch(`${t.baseUrl}/health/live`, { headers: { 'x-request-id': 'trace-abc-123' } });
    expect(given.headers.get('x-request-id')).toBe('trace-abc-123');
    const made = await fetch(`${t.baseUrl}/health/live`, { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
