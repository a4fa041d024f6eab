import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnFakeSupplierApi, type SpawnedFakeSupplierApi } from '../tools/fake-supplier-api.mjs';
import { api } from './support/http.js';
import { startServiceProcess, type ServiceProcess } from './support/processes.js';
import { deletePrefixKeys, dropDatabase, eventually, isolatedNames } from './support/service.js';

/** Several real processes against one Postgres and Redis, as a fleet runs them. */
const ORDERS = 2_000;
const WORKERS = 3;
const CONCURRENCY = 20;

let cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  cleanups = [];
});

async function fleet(label: string, rateLimit = 500, timeouts = { callMs: 5_000, lockMs: 10_000 }) {
  const names = isolatedNames(label);
  const supplier: SpawnedFakeSupplierApi = await spawnFakeSupplierApi({
    latencyMs: 15,
    latencyJitterMs: 10,
    rateLimit: 600,
    error5xx: 0.03,
    closeConnection: 0.02,
    seed: 42,
  });
  cleanups.push(() => supplier.stop());
  const env = {
    EXTERNAL_API_URL: supplier.url,
    EXTERNAL_API_RATE_LIMIT: String(rateLimit),
    // A call that outlives its timeout is an answer lost; the first test keeps them out.
    EXTERNAL_API_TIMEOUT_MS: String(timeouts.callMs),
    DISPATCH_LOCK_MS: String(timeouts.lockMs),
    DISPATCH_LEASE_MS: '5000',
    DISPATCH_RECOVERY_INTERVAL_MS: '1000',
    DISPATCH_MAX_ATTEMPTS: '20',
    DISPATCH_CONCURRENCY: String(CONCURRENCY),
    DATABASE_POOL_MAX: '5',
    // info: the 'ordersync started' line is how a parent knows the process is up.
    LOG_LEVEL: 'info',
  };
  const apiProcess = await startServiceProcess(names, { ...env, ROLE: 'api' });
  cleanups.push(async () => {
    await apiProcess.stop();
    await deletePrefixKeys(names.queuePrefix);
    await dropDatabase(names.databaseName);
  });
  const startWorker = async () => {
    const worker = await startServiceProcess(names, { ...env, ROLE: 'worker' });
    cleanups.push(() => worker.stop());
    return worker;
  };
  const workers = await Promise.all(Array.from({ length: WORKERS }, startWorker));
  const db = new pg.Pool({ connectionString: names.databaseUrl, max: 1 });
  cleanups.push(() => db.end());
  const baseUrl = `http://127.0.0.1:${apiProcess.port}`;
  const createOrders = async () => {
    for (let i = 0; i < ORDERS; i += 1_000) {
      const orders = Array.from({ length: Math.min(1_000, ORDERS - i) }, (_, k) => ({ id: `F-${i + k}`, payload: { n: i + k } }));
      expect((await api(baseUrl, 'POST', '/orders/batch', { orders })).body.created).toBe(orders.length);
    }
  };
  const counts = async () => {
    const { rows } = await db.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM orders GROUP BY status`);
    return Object.fromEntries(rows.map((row) => [row.status, row.n])) as Record<string, number>;
  };
  const allSettled = (timeoutMs: number) =>
    eventually(
      async () => {
        const now = await counts();
        if (process.env.DEBUG_FLEET) console.error(JSON.stringify(now));
        return (now.COMPLETED ?? 0) + (now.FAILED ?? 0) === ORDERS ? now : undefined;
      },
      timeoutMs,
      'every order COMPLETED or FAILED',
    );
  return { supplier, workers, startWorker, createOrders, allSettled };
}

async function expectOneSideEffectPerOrder(supplier: SpawnedFakeSupplierApi) {
  const stats = await supplier.stats({ keys: true });
  const perKey = Object.entries(stats.perKey ?? {});
  expect(perKey).toHaveLength(ORDERS);
  expect(perKey.filter(([, key]) => key.sideEffects !== 1)).toEqual([]);
  // Never two calls for one order at the same time.
  expect(perKey.filter(([, key]) => key.maxConcurrent > 1)).toEqual([]);
  expect(stats).toMatchObject({ duplicateSideEffects: 0, rejectedForRate: 0, sideEffects: ORDERS });
  return { stats, extraCalls: perKey.reduce((sum, [, key]) => sum + key.calls - 1, 0) };
}

describe('dispatch across a fleet of processes', () => {
  it(`sends ${ORDERS} orders through ${WORKERS} worker processes, one side effect each`, { timeout: 180_000 }, async () => {
    const { supplier, createOrders, allSettled } = await fleet('fleet');
    await createOrders();
    const final = await allSettled(60_000);
    expect(final).toEqual({ COMPLETED: ORDERS });
    const { stats, extraCalls } = await expectOneSideEffectPerOrder(supplier);
    // A second call for an order only follows an injected fault (5xx, or an answer cut off).
    const faults = (stats.answers['503'] ?? 0) + (stats.answers.close ?? 0) + (stats.answers['close-before'] ?? 0);
    expect(extraCalls).toBeLessThanOrEqual(faults);
  });

  it('still sends each order once while workers are kill -9ed mid-call, again and again', { timeout: 240_000 }, async () => {
    const { supplier, workers, startWorker, createOrders, allSettled } = await fleet('fleet_kill', 200, { callMs: 1_000, lockMs: 2_000 });
    await createOrders();
    let kills = 0;
    let killedMidCall = 0;
    const replacements: Promise<ServiceProcess>[] = [];
    for (const threshold of [300, 700, 1_100, 1_500]) {
      // Let calls get under way, then kill a worker in the middle of them.
      await eventually(async () => ((await supplier.stats()).calls > threshold ? true : undefined), 60_000, 'calls under way');
      if (workers.length === 0) await Promise.race(replacements);
      const victim = workers.shift() as ServiceProcess;
      if ((await supplier.stats()).inFlight > 0) killedMidCall++;
      await victim.kill();
      kills++;
      // The replacement joins while the others keep going, as an orchestrator would restart it.
      replacements.push(startWorker().then((worker) => (workers.push(worker), worker)));
    }
    await Promise.all(replacements);
    expect(killedMidCall).toBeGreaterThan(0);
    const final = await allSettled(90_000);
    expect(final).toEqual({ COMPLETED: ORDERS });
    const { stats, extraCalls } = await expectOneSideEffectPerOrder(supplier);
    // 409: a retry that reached the API while the timed-out call was still there.
    const faults =
      (stats.answers['503'] ?? 0) + (stats.answers.close ?? 0) + (stats.answers['close-before'] ?? 0) + (stats.answers['409'] ?? 0);
    // Beyond the faults, only calls in flight in a killed worker are made again (same key).
    expect(extraCalls).toBeLessThanOrEqual(faults + kills * CONCURRENCY);
  });
});
