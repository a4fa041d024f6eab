import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { Worker } from 'bullmq';
import { LeaseRecoveryService } from '../src/dispatch/lease-recovery.service.js';
import { WorkerRegistry } from '../src/queues/worker-registry.js';
import { DISPATCH_ORDER_JOB, ORDER_DISPATCH_QUEUE, dispatchJobId } from '../src/queues/order-dispatch.queue.js';
import { startFakeSupplierApi, type FakeSupplierApi } from '../tools/fake-supplier-api.mjs';
import { api, orderMessage, push1688 } from './support/http.js';
import { ADMIN_KEY, eventually, freePort, queueOptions, startTestService, type TestService } from './support/service.js';

let t: TestService;
let supplier: FakeSupplierApi;
const ID_BASE = 167539019430000000n;

beforeAll(async () => {
  supplier = await startFakeSupplierApi({ idBase: ID_BASE, latencyMs: 5 });
  t = await startTestService('dispatch', {
    EXTERNAL_API_URL: supplier.url,
    EXTERNAL_API_TIMEOUT_MS: '400',
    EXTERNAL_API_RATE_LIMIT: '200',
    DISPATCH_MAX_ATTEMPTS: '3',
    DISPATCH_LOCK_MS: '2000',
    DISPATCH_RETRY_AFTER_MAX_MS: '1500',
  });
});
afterAll(async () => {
  await t?.stop();
  await supplier?.close();
});
afterEach(() => {
  supplier.configure({ error5xx: 0, error429: 0, timeout: 0, rateLimit: 0, latencyMs: 5 });
});

/** The Idempotency-Key the supplier sees for an order id (the contract's encoding). */
function encodeKey(id: string): string {
  return [...Buffer.from(id, 'utf8')]
    .map((b) =>
      /[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');
}

async function order(id: string) {
  return (await api(t.baseUrl, 'GET', `/orders/${encodeURIComponent(id)}`)).body;
}

function settled(id: string, status = 'COMPLETED', timeoutMs = 15_000) {
  return eventually(
    async () => {
      const current = await order(id);
      return current.status === status ? current : undefined;
    },
    timeoutMs,
    `order ${id} to be ${status}`,
  );
}

async function events(id: string) {
  return (await api(t.baseUrl, 'GET', `/orders/${encodeURIComponent(id)}/events`)).body.items as {
    kind: string;
    toStatus: string | null;
    attempt: number | null;
    reason: string | null;
  }[];
}

describe('dispatch', () => {
  it('sends a new order soon after POST /orders, once, with its id as Idempotency-Key, and links the supplier order', async () => {
    const created = await api(t.baseUrl, 'POST', '/orders', { id: 'D-1', payload: { sku: 'x' } });
    expect(created.status).toBe(201);
    const done = await settled('D-1');
    expect(done).toMatchObject({ attempts: 1, lastError: null });
    expect(done.supplierOrderId).toMatch(/^\d{18}$/);
    expect(supplier.keyStats('D-1')).toMatchObject({ calls: 1, sideEffects: 1, maxConcurrent: 1 });
    expect((await events('D-1')).map((e) => e.toStatus)).toEqual(['PENDING', 'PROCESSING', 'COMPLETED']);
  });

  it('retries a 503 and a timeout with backoff, then succeeds with one side effect', async () => {
    supplier.script('D-2', ['503', 'timeout', '201']);
    await api(t.baseUrl, 'POST', '/orders', { id: 'D-2', payload: {} });
    const done = await settled('D-2');
    expect(done.attempts).toBe(3);
    expect(supplier.keyStats('D-2')).toMatchObject({ calls: 3, sideEffects: 1 });
    const attempts = (await events('D-2')).filter((e) => e.kind === 'dispatch_attempt');
    expect(attempts.map((e) => e.reason)).toEqual([expect.stringContaining('503'), expect.stringContaining('timed out')]);
  });

  it('calls again with the same key when an answer was lost, and the supplier does it once', async () => {
    supplier.script('D-3', ['close', 'garbage']);
    await api(t.baseUrl, 'POST', '/orders', { id: 'D-3', payload: {} });
    const done = await settled('D-3');
    expect(supplier.keyStats('D-3')).toMatchObject({ calls: 2, sideEffects: 1 });
    // The second answer was a 2xx with an unparsable body: done, not linked, and said so.
    expect(done.supplierOrderId).toBeNull();
    const completion = (await events('D-3')).find((e) => e.toStatus === 'COMPLETED');
    expect(completion?.reason).toMatch(/unparsable/);
  });

  it('fails a final 4xx at once, without retry, and dead-letters it with its reason', async () => {
    supplier.script('D-4', ['422']);
    // A fresh key: the 422 would otherwise be the key's stored answer.
    await api(t.baseUrl, 'POST', '/orders', { id: 'D-4', payload: {} });
    const failed = await settled('D-4', 'FAILED');
    expect(failed).toMatchObject({ attempts: 1, lastError: expect.stringContaining('422') });
    expect(supplier.keyStats('D-4').calls).toBe(1);

    const letters = await eventually(async () => {
      const page = await api(t.baseUrl, 'GET', '/queues/order-dispatch/dead-letters');
      return page.body.items.length > 0 ? page.body : undefined;
    });
    expect(letters.items).toEqual([
      expect.objectContaining({ jobId: 'order-D-4', attemptsMade: 1, failedReason: expect.stringContaining('422') }),
    ]);
  });

  it('dead-letters an order after DISPATCH_MAX_ATTEMPTS, then a retry sends it again with the same key, once', async () => {
    supplier.script('D-5', ['503', '502', '500', '201']);
    await api(t.baseUrl, 'POST', '/orders', { id: 'D-5', payload: {} });
    const failed = await settled('D-5', 'FAILED');
    expect(failed).toMatchObject({ attempts: 3, lastError: expect.stringMatching(/gave up after 3 attempts.*500/) });
    expect(supplier.keyStats('D-5')).toMatchObject({ calls: 3, sideEffects: 0 });

    const retried = await api(t.baseUrl, 'POST', '/queues/order-dispatch/dead-letters/order-D-5/retry', {}, ADMIN_KEY);
    expect(retried).toMatchObject({ status: 200, body: { retried: 'order-D-5' } });
    // Retrying again at once finds nothing to retry: it cannot run twice.
    expect((await api(t.baseUrl, 'POST', '/queues/order-dispatch/dead-letters/order-D-5/retry', {}, ADMIN_KEY)).status).toBe(404);
    const done = await settled('D-5');
    expect(done.attempts).toBe(1);
    expect(supplier.keyStats('D-5')).toMatchObject({ calls: 4, sideEffects: 1 });
    const page = await api(t.baseUrl, 'GET', '/queues/order-dispatch/dead-letters');
    expect(page.body.items.map((item: { jobId: string }) => item.jobId)).not.toContain('order-D-5');
  });

  it('honours Retry-After: a 429 pauses the whole queue, and no attempt is used up', async () => {
    supplier.script('D-6', ['429:2', '201']);
    // Timed from before the order exists, so that a slow poll below cannot eat into the pause.
    const createdAt = Date.now();
    await api(t.baseUrl, 'POST', '/orders', { id: 'D-6', payload: {} });
    await eventually(async () => (supplier.keyStats('D-6').calls === 1 ? true : undefined));
    // Sent while the queue is paused: it must wait too.
    await api(t.baseUrl, 'POST', '/orders', { id: 'D-7', payload: {} });
    await settled('D-6');
    await settled('D-7');
    // The 429 came after the order was created and asked for 2 s, held to DISPATCH_RETRY_AFTER_MAX_MS (1.5 s here).
    expect(Date.now() - createdAt).toBeGreaterThanOrEqual(1_480);
    expect((await order('D-6')).attempts).toBe(1);
    expect(supplier.keyStats('D-7').calls).toBe(1);
  });

  it('merges the EXTERNAL order of 1688 messages that came first, keeping every message and the newest status', async () => {
    // The next supplier order id the fake will hand out.
    const next = String(ID_BASE + BigInt(supplier.stats().sideEffects + 1));
    expect(
      (await push1688(t.baseUrl, orderMessage({ msgId: 9001, orderId: next, status: 'waitsellersend', sentAt: '2026-11-20 10:00:00' })))
        .status,
    ).toBe(200);
    const placeholder = await eventually(async () => {
      const list = await api(t.baseUrl, 'GET', `/orders?supplierOrderId=${next}`);
      return list.body.items[0];
    });
    expect(placeholder).toMatchObject({ status: 'EXTERNAL', supplierStatus: 'waitsellersend' });

    await api(t.baseUrl, 'POST', '/orders', { id: 'D-8', payload: {} });
    const done = await settled('D-8');
    expect(done).toMatchObject({ supplierOrderId: next, supplierStatus: 'waitsellersend' });
    expect((await api(t.baseUrl, 'GET', `/orders/${placeholder.id}`)).status).toBe(404);
    const list = await api(t.baseUrl, 'GET', `/orders?supplierOrderId=${next}`);
    expect(list.body.items.map((o: { id: string }) => o.id)).toEqual(['D-8']);
    const kinds = (await events('D-8')).map((e) => e.kind);
    expect(kinds).toEqual(expect.arrayContaining(['supplier_message', 'merged', 'status_change']));

    // Later messages for that supplier order land on our order.
    await push1688(t.baseUrl, orderMessage({ msgId: 9002, orderId: next, status: 'waitbuyerreceive', sentAt: '2026-11-21 10:00:00' }));
    await eventually(async () => ((await order('D-8')).supplierStatus === 'waitbuyerreceive' ? true : undefined));
  });

  it('claims PENDING orders on POST /dispatch/run and answers how many', async () => {
    await t.db.query(`INSERT INTO orders (id, status, payload) SELECT 'run-' || g, 'PENDING', '{}' FROM generate_series(1, 30) g`);
    const run = await api(t.baseUrl, 'POST', '/dispatch/run', undefined, ADMIN_KEY);
    expect(run).toMatchObject({ status: 200, body: { claimed: 30 } });
    expect((await api(t.baseUrl, 'POST', '/dispatch/run', undefined, ADMIN_KEY)).body).toEqual({ claimed: 0 });
    await settled('run-30');
    expect((await api(t.baseUrl, 'POST', '/dispatch/run', undefined, null)).status).toBe(401);
    expect((await api(t.baseUrl, 'POST', '/dispatch/run')).status).toBe(403);
  });

  it('never goes over the rate limit, across the queue', async () => {
    supplier.reset();
    supplier.configure({ rateLimit: 200 });
    const ids = Array.from({ length: 400 }, (_, i) => `rate-${i}`);
    const started = Date.now();
    await api(t.baseUrl, 'POST', '/orders/batch', { orders: ids.map((id) => ({ id, payload: {} })) });
    await eventually(async () => {
      const { rows } = await t.db.query(`SELECT count(*)::int AS n FROM orders WHERE id LIKE 'rate-%' AND status = 'COMPLETED'`);
      return rows[0].n === ids.length ? true : undefined;
    }, 30_000);
    const stats = supplier.stats();
    expect(stats).toMatchObject({ rejectedForRate: 0, duplicateSideEffects: 0, sideEffects: 400 });
    // Counted by the supplier as calls arrive, over any second, not only aligned ones.
    expect(stats.maxCallsPerSecond).toBeLessThanOrEqual(200);
    // 400 calls at 200/s take at least ~1.5 s (the first second's worth may go at once).
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
  });

  it('recovers an order whose lease expired and whose job is gone, and leaves one whose job is alive', async () => {
    const queue = t.service.app.get<Queue>(getQueueToken(ORDER_DISPATCH_QUEUE), { strict: false });
    const recovery = t.service.app.get(LeaseRecoveryService, { strict: false });
    await queue.pause();
    try {
      // claimed, then its job was lost (Redis lost it, or the claimer died before queueing).
      // claimed, its job still waiting in the queue.
      await t.db.query(
        `INSERT INTO orders (id, status, payload, lease_until) VALUES ('R-1', 'PROCESSING', '{}', now() - interval '1 minute'), ('R-2', 'PROCESSING', '{}', now() - interval '1 minute')`,
      );
      await queue.add(DISPATCH_ORDER_JOB, { orderId: 'R-2', payloadJson: '{}' }, { jobId: dispatchJobId('R-2'), attempts: 3 });
      expect(await recovery.recoverExpired()).toEqual({ extended: 1, reported: 0, requeued: 1 });
      // Both now hold a fresh lease: recovery at once again finds nothing.
      expect(await recovery.recoverExpired()).toEqual({ extended: 0, reported: 0, requeued: 0 });
      expect(await queue.getJobState(dispatchJobId('R-1'))).toBe('waiting');
    } finally {
      await queue.resume();
    }
    await settled('R-1');
    await settled('R-2');
    expect(supplier.keyStats('R-1')).toMatchObject({ calls: 1, sideEffects: 1 });
    expect(supplier.keyStats('R-2')).toMatchObject({ calls: 1, sideEffects: 1 });
  });

  it('never sends again an order whose job finished while its result was not applied: the result is reported again', async () => {
    const queue = t.service.app.get<Queue>(getQueueToken(ORDER_DISPATCH_QUEUE), { strict: false });
    const recovery = t.service.app.get(LeaseRecoveryService, { strict: false });
    // The service's worker stands aside; one of our own takes the job by hand and finishes it.
    const serviceWorker = t.service.app.get(WorkerRegistry).workerOf(ORDER_DISPATCH_QUEUE) as Worker;
    await serviceWorker.pause();
    const hand = new Worker(ORDER_DISPATCH_QUEUE, null, {
      ...queueOptions(t.config, ORDER_DISPATCH_QUEUE),
      autorun: false,
    });
    try {
      await t.db.query(
        `INSERT INTO orders (id, status, payload, lease_until) VALUES ('R-3', 'PROCESSING', '{}', now() - interval '1 minute')`,
      );
      await queue.add(DISPATCH_ORDER_JOB, { orderId: 'R-3', payloadJson: '{}' }, { jobId: dispatchJobId('R-3'), attempts: 3 });
      const job = await hand.getNextJob('hand-token');
      expect(job?.id).toBe(dispatchJobId('R-3'));
      // Its call was answered and its result lost: what lease recovery must not answer with a second call.
      const result = {
        orderId: 'R-3',
        outcome: 'completed',
        attempt: 1,
        supplierOrderId: '167539019439999999',
        error: null,
        at: new Date().toISOString(),
      };
      await job?.moveToCompleted({ outcome: 'completed', result }, 'hand-token', false);
      expect(await recovery.recoverExpired()).toEqual({ extended: 0, reported: 1, requeued: 0 });
    } finally {
      await hand.close();
      void serviceWorker.resume();
    }
    const done = await settled('R-3');
    expect(done.supplierOrderId).toBe('167539019439999999');
    expect(supplier.keyStats('R-3').calls).toBe(0);
  });

  it('sends every id the API accepts, integer-looking, long, non-ASCII or with "%", once each under its own key', async () => {
    supplier.reset();
    const long = '订'.repeat(128);
    const ids = [
      '1001',
      '0042',
      '-5',
      '1e3',
      '9007199254740993',
      ' x ',
      '%20x%20',
      'a:b',
      'x'.repeat(128),
      long,
      '😀'.repeat(128),
      'a/b?c#d',
      "it's",
    ];
    const created = await api(t.baseUrl, 'POST', '/orders/batch', { orders: ids.map((id) => ({ id, payload: { n: 1 } })) });
    expect(created).toMatchObject({ status: 200, body: { created: ids.length } });
    for (const id of ids) {
      const done = await settled(id);
      expect(done.id).toBe(id);
      expect(supplier.keyStats(encodeKey(id))).toMatchObject({ calls: 1, sideEffects: 1 });
      expect((await api(t.baseUrl, 'GET', `/orders/${encodeURIComponent(id)}/events`)).status).toBe(200);
    }
    expect(supplier.stats()).toMatchObject({ sideEffects: ids.length, duplicateSideEffects: 0 });
  });

  it('gives claimed orders back to PENDING when their jobs cannot be queued, and sends them later', async () => {
    const queue = t.service.app.get<Queue>(getQueueToken(ORDER_DISPATCH_QUEUE), { strict: false });
    const addBulk = queue.addBulk.bind(queue);
    let refused = 0;
    queue.addBulk = async (...args) => {
      if (refused++ === 0) throw new Error('Connection is closed.');
      return addBulk(...args);
    };
    try {
      await api(t.baseUrl, 'POST', '/orders', { id: 'Q-1', payload: {} });
      const back = await eventually(async () => ((await order('Q-1')).status === 'PENDING' && refused > 0 ? order('Q-1') : undefined));
      expect(back.status).toBe('PENDING');
      expect((await events('Q-1')).map((e) => e.toStatus)).toEqual(['PENDING', 'PROCESSING', 'PENDING']);
      expect((await api(t.baseUrl, 'POST', '/dispatch/run', undefined, ADMIN_KEY)).body).toEqual({ claimed: 1 });
    } finally {
      queue.addBulk = addBulk;
    }
    await settled('Q-1');
    expect(supplier.keyStats('Q-1')).toMatchObject({ calls: 1, sideEffects: 1 });
  });

  it('holds a huge Retry-After on a 5xx to DISPATCH_RETRY_AFTER_MAX_MS', async () => {
    supplier.script('D-9', ['503:864000', '201']);
    const started = Date.now();
    await api(t.baseUrl, 'POST', '/orders', { id: 'D-9', payload: {} });
    const done = await settled('D-9', 'COMPLETED', 10_000);
    expect(done.attempts).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
  });

  it('keeps every order when Postgres drops every connection of the service mid-run', async () => {
    supplier.reset();
    supplier.configure({ latencyMs: 20 });
    const ids = Array.from({ length: 300 }, (_, i) => `cut-${i}`);
    await api(t.baseUrl, 'POST', '/orders/batch', { orders: ids.map((id) => ({ id, payload: {} })) });
    await eventually(async () => (supplier.stats().calls > 50 ? true : undefined));
    // What a Postgres restart does to a client: every connection of the service dies at once.
    await t.db.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    );
    await eventually(
      async () => {
        const { rows } = await t.db.query(`SELECT count(*)::int AS n FROM orders WHERE id LIKE 'cut-%' AND status = 'COMPLETED'`);
        return rows[0].n === ids.length ? true : undefined;
      },
      30_000,
      'every order COMPLETED after the connections were cut',
    );
    expect(supplier.stats()).toMatchObject({ sideEffects: ids.length, duplicateSideEffects: 0 });
  });
});

describe('dispatch to an external API that is not there yet', () => {
  it('retries refused connections and sends the order once the API comes up', async () => {
    const port = await freePort();
    const service = await startTestService('dispatch_late_api', {
      EXTERNAL_API_URL: `http://127.0.0.1:${port}/orders`,
      EXTERNAL_API_TIMEOUT_MS: '400',
      DISPATCH_MAX_ATTEMPTS: '10',
      DISPATCH_LOCK_MS: '2000',
    });
    let late: FakeSupplierApi | undefined;
    try {
      expect((await api(service.baseUrl, 'POST', '/orders', { id: 'L-1', payload: {} })).status).toBe(201);
      const waiting = await eventually(async () => {
        const current = (await api(service.baseUrl, 'GET', '/orders/L-1')).body;
        return current.attempts >= 2 ? current : undefined;
      });
      expect(waiting).toMatchObject({ status: 'PROCESSING', lastError: expect.stringContaining('ECONNREFUSED') });
      late = await startFakeSupplierApi({ port });
      const done = await eventually(async () => {
        const current = (await api(service.baseUrl, 'GET', '/orders/L-1')).body;
        return current.status === 'COMPLETED' ? current : undefined;
      }, 20_000);
      expect(done.supplierOrderId).not.toBeNull();
      expect(late.keyStats('L-1')).toMatchObject({ calls: 1, sideEffects: 1 });
    } finally {
      await service.stop();
      await late?.close();
    }
  });
});
