import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeSupplierApi } from '../tools/fake-supplier-api.mjs';
import { api, orderMessage, push1688 } from './support/http.js';
import { startServiceProcess } from './support/processes.js';
import { deletePrefixKeys, dropDatabase, eventually, freePort, isolatedNames } from './support/service.js';

let cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  cleanups = [];
});

function isolated(label: string) {
  const names = isolatedNames(label);
  cleanups.push(async () => {
    await deletePrefixKeys(names.queuePrefix);
    await dropDatabase(names.databaseName);
  });
  return names;
}

describe('roles', () => {
  it('ROLE=worker opens no port at all; with WORKER_HTTP_PORT only /health and /metrics', { timeout: 120_000 }, async () => {
    const names = isolated('roles');
    const worker = await startServiceProcess(names, { ROLE: 'worker' });
    cleanups.push(() => worker.stop());
    expect(worker.port).toBeNull();

    const port = await freePort();
    const withPort = await startServiceProcess(names, { ROLE: 'worker', WORKER_HTTP_PORT: String(port), LOG_LEVEL: 'debug' });
    cleanups.push(() => withPort.stop());
    const base = `http://127.0.0.1:${port}`;
    expect((await api(base, 'GET', '/health/live', undefined, null)).status).toBe(200);
    expect((await api(base, 'GET', '/health/ready', undefined, null)).status).toBe(200);
    expect((await api(base, 'GET', '/metrics', undefined, null)).status).toBe(200);
    expect((await api(base, 'GET', '/orders')).status).toBe(404);
    expect((await push1688(base, orderMessage({ msgId: 1, orderId: '100000000000000001', status: 'waitbuyerpay' }))).status).toBe(404);

    // Structured logs: a line per request carrying its id; credentials never written.
    await fetch(`${base}/metrics`, { headers: { 'x-request-id': 'log-check-1', authorization: 'Bearer never-log-this-key' } });
    const line = await eventually(
      async () =>
        withPort
          .output()
          .split('\n')
          .find((l) => l.includes('"reqId":"log-check-1"')),
      5_000,
      'the request logged',
    );
    expect(JSON.parse(line)).toMatchObject({ level: 'debug', reqId: 'log-check-1', url: '/metrics', status: 200, service: 'ordersync' });
    expect(withPort.output()).not.toContain('never-log-this-key');
  });
});

describe('SIGTERM', () => {
  it(
    'readiness goes down first, in-flight work finishes, exit 0, and nothing answered 2xx or claimed is lost',
    { timeout: 180_000 },
    async () => {
      const names = isolated('sigterm');
      const supplier = await startFakeSupplierApi({ latencyMs: 40 });
      cleanups.push(() => supplier.close());
      const env = {
        EXTERNAL_API_URL: supplier.url,
        EXTERNAL_API_RATE_LIMIT: '200',
        SHUTDOWN_READY_DELAY_MS: '1000',
        DISPATCH_LOCK_MS: '3000',
        EXTERNAL_API_TIMEOUT_MS: '2000',
      };
      const service = await startServiceProcess(names, { ...env, ROLE: 'all' });
      cleanups.push(() => service.stop());
      const base = `http://127.0.0.1:${service.port}`;

      // A stream of pushes (as 1688 sends them) and of orders to dispatch.
      const acked: string[] = [];
      let refused = 0;
      let stop = false;
      const pushes = (async () => {
        for (let n = 0; !stop; n++) {
          const msgId = String(900_000 + n);
          try {
            const answer = await push1688(
              base,
              orderMessage({ msgId, orderId: String(300000000000000000n + BigInt(n)), status: 'waitsellersend' }),
            );
            if (answer.status === 200) acked.push(msgId);
            else expect(answer.status).toBe(503);
          } catch {
            refused++;
            if (refused > 20) return;
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        }
      })();
      const orders = Array.from({ length: 300 }, (_, i) => ({ id: `S-${i}`, payload: { i } }));
      expect((await api(base, 'POST', '/orders/batch', { orders })).body.created).toBe(300);
      await eventually(async () => (supplier.stats().calls >= 50 && acked.length >= 50 ? true : undefined), 30_000, 'work under way');

      const exit = new Promise<number | null>((resolve) => service.child.once('exit', (code) => resolve(code)));
      service.child.kill('SIGTERM');
      const ready = await eventually(
        async () => {
          const answer = await api(base, 'GET', '/health/ready', undefined, null);
          return answer.status === 503 ? answer : undefined;
        },
        5_000,
        'readiness down',
      );
      expect(ready.body.details.lifecycle).toMatchObject({ status: 'down', message: 'shutting down' });
      expect(await exit).toBe(0);
      stop = true;
      await pushes;

      // Whatever was left in the queues is picked up by the next instance.
      const successor = await startServiceProcess(names, { ...env, ROLE: 'worker' });
      cleanups.push(() => successor.stop());
      const db = new pg.Pool({ connectionString: names.databaseUrl, max: 1 });
      cleanups.push(() => db.end());
      await eventually(
        async () => {
          const { rows } = await db.query(`SELECT count(*)::int AS n FROM inbox_messages WHERE message_id = ANY($1)`, [acked]);
          return rows[0].n === acked.length ? true : undefined;
        },
        60_000,
        'every acknowledged push applied',
      );
      await eventually(
        async () => {
          const { rows } = await db.query(`SELECT count(*)::int AS n FROM orders WHERE id LIKE 'S-%' AND status = 'COMPLETED'`);
          return rows[0].n === orders.length ? true : undefined;
        },
        60_000,
        'every order COMPLETED',
      );
      const stats = supplier.stats({ keys: true });
      expect(Object.values(stats.perKey ?? {}).filter((key) => key.sideEffects !== 1)).toEqual([]);
      expect(stats.duplicateSideEffects).toBe(0);
      expect(acked.length).toBeGreaterThan(50);
    },
  );
});
