import { afterAll, describe, expect, it } from 'vitest';
import { startFakeSupplierApi, type FakeSupplierApi } from '../tools/fake-supplier-api.mjs';
import { api, orderMessage, push1688 } from './support/http.js';
import { startServiceProcess, type ServiceProcess } from './support/processes.js';
import { deletePrefixKeys, dropDatabase, eventually, isolatedNames } from './support/service.js';

/**
 * Scaling out: 3 API and 3 worker processes on one Postgres and one Redis (or the Cluster, with
 * TEST_REDIS_TOPOLOGY=cluster). Pushes and orders spread over the API ports; one API and one
 * worker are killed (kill -9) mid-run. Nothing acknowledged is lost and each order is sent once.
 */
const names = isolatedNames('fleet');
const processes: ServiceProcess[] = [];
let supplier: FakeSupplierApi | undefined;

afterAll(async () => {
  await Promise.all(processes.map((p) => p.kill()));
  await supplier?.close();
  await deletePrefixKeys(names.queuePrefix);
  await dropDatabase(names.databaseName);
});

describe('a fleet of 3 API and 3 worker processes', () => {
  it('loses nothing acknowledged and sends each order once when an API and a worker die mid-run', { timeout: 240_000 }, async () => {
    supplier = await startFakeSupplierApi({ latencyMs: 20, rateLimit: 0 });
    const env = {
      EXTERNAL_API_URL: supplier.url,
      EXTERNAL_API_RATE_LIMIT: '300',
      EXTERNAL_API_TIMEOUT_MS: '2000',
      DISPATCH_LOCK_MS: '3000',
      DISPATCH_CRON: '*/2 * * * * *',
      DATABASE_POOL_MAX: '4',
    };
    // Started one after another: the first migrates, the others find the schema ready.
    for (let i = 0; i < 3; i++) processes.push(await startServiceProcess(names, { ...env, ROLE: 'api' }));
    for (let i = 0; i < 3; i++) processes.push(await startServiceProcess(names, { ...env, ROLE: 'worker' }));
    const apis = processes.slice(0, 3);
    const workers = processes.slice(3);
    const alive = () => apis.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
    const baseOf = (i: number) => {
      const live = alive();
      return `http://127.0.0.1:${live[i % live.length].port}`;
    };

    const acked = new Set<number>();
    const total = 1_500;
    const orderIds = Array.from({ length: 300 }, (_, i) => `F-${i}`);
    let next = 0;
    // Like 1688: what is not answered 2xx (a dead API, a reset) is sent again, to another API.
    const pushLoop = async (lane: number) => {
      for (;;) {
        const i = next++;
        if (i >= total) return;
        for (let attempt = 0; ; attempt++) {
          const answer = await push1688(
            baseOf(lane + attempt),
            orderMessage({
              msgId: 5_000_000 + i,
              orderId: String(569000000000000000n + BigInt(i % 200)),
              status: 'waitsellersend',
              gmtBorn: 1_700_000_000_000 + i,
            }),
          ).catch(() => ({ status: 0 }));
          if (answer.status === 200) {
            acked.add(i);
            break;
          }
        }
      }
    };
    const createLoop = async () => {
      for (let i = 0; i < orderIds.length; i += 20) {
        const batch = orderIds.slice(i, i + 20).map((id) => ({ id, payload: { n: 1 } }));
        for (let attempt = 0; ; attempt++) {
          const answer = await api(baseOf(i + attempt), 'POST', '/orders/batch', { orders: batch }).catch(() => ({ status: 0 }));
          if (answer.status === 200) break;
        }
      }
    };
    const load = Promise.all([...Array.from({ length: 6 }, (_, lane) => pushLoop(lane)), createLoop()]);
    await eventually(() => (acked.size > total / 3 ? true : undefined), 60_000, 'a third of the pushes acknowledged');
    await apis[0].kill();
    await workers[0].kill();
    await load;
    expect(acked.size).toBe(total);

    const live = `http://127.0.0.1:${alive()[0].port}`;
    await eventually(
      async () => {
        const { body } = await api(live, 'GET', '/orders?status=COMPLETED&limit=1000');
        return body.items?.length === orderIds.length ? true : undefined;
      },
      120_000,
      'every order COMPLETED',
    );
    expect(supplier.stats()).toMatchObject({ sideEffects: orderIds.length, duplicateSideEffects: 0 });
    for (const id of orderIds) expect(supplier.keyStats(id).sideEffects).toBe(1);

    // Every acknowledged push is in the inbox, once.
    const pg = await import('pg');
    const db = new pg.default.Client({ connectionString: names.databaseUrl });
    await db.connect();
    try {
      await eventually(
        async () => {
          const { rows } = await db.query(
            `SELECT count(*)::int AS n FROM inbox_messages WHERE source = '1688' AND message_id::bigint >= 5000000`,
          );
          return rows[0].n === total ? true : undefined;
        },
        60_000,
        'every acknowledged push applied',
      );
    } finally {
      await db.end();
    }
  });
});
