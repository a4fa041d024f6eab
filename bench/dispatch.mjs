// @ts-check
// Dispatch: PENDING orders sent to the fake supplier API (50 ms latency, 500/s limit) by the
// service, beside the seed's loop (select 200 PENDING, call one by one, update) against the
// same fake API in the same run. Figures: orders/s as a share of the limit, 429s, duplicates.
import pg from 'pg';
import { spawnFakeSupplierApi } from '../tools/fake-supplier-api.mjs';
import { ADMIN_KEY, cleanup, isolated, printTable, serviceEnv, startService } from './lib.mjs';

const ORDERS = Number(process.env.BENCH_DISPATCH_ORDERS ?? 10_000);
const SEED_SAMPLE = Number(process.env.BENCH_DISPATCH_SEED_SAMPLE ?? 400);
const LIMIT = Number(process.env.BENCH_DISPATCH_LIMIT ?? 500);
const LATENCY_MS = Number(process.env.BENCH_DISPATCH_LATENCY_MS ?? 50);
const WORKERS = Number(process.env.BENCH_DISPATCH_WORKERS ?? 2);
const PORT = Number(process.env.BENCH_DISPATCH_PORT ?? 3393);

/**
 * @param {pg.Pool} db
 * @param {string} prefix
 * @param {number} count
 */
async function insertPending(db, prefix, count) {
  await db.query(
    `INSERT INTO orders (id, status, payload) SELECT $1 || g, 'PENDING', jsonb_build_object('n', g) FROM generate_series(1, $2::int) g`,
    [prefix, count],
  );
}

/**
 * The seed's design, as its users ran it: one call at a time, one UPDATE per order.
 *
 * @param {pg.Pool} db
 * @param {string} url
 * @param {number} count
 */
async function seedLoop(db, url, count) {
  const started = Date.now();
  let sent = 0;
  while (sent < count) {
    const { rows } = await db.query(`SELECT id, payload FROM orders WHERE status = 'PENDING' AND id LIKE 'seed-%' ORDER BY id LIMIT 200`);
    if (rows.length === 0) break;
    for (const row of rows.slice(0, count - sent)) {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': row.id },
        body: JSON.stringify({ orderId: row.id, payload: row.payload }),
      });
      await response.text();
      await db.query(`UPDATE orders SET status = $2 WHERE id = $1`, [row.id, response.ok ? 'COMPLETED' : 'FAILED']);
      sent++;
    }
  }
  return { rate: sent / ((Date.now() - started) / 1000) };
}

export async function benchDispatch() {
  const names = isolated('dispatch');
  const supplier = await spawnFakeSupplierApi({ latencyMs: LATENCY_MS, latencyJitterMs: 10, rateLimit: LIMIT });
  const env = serviceEnv(names, { EXTERNAL_API_URL: supplier.url, EXTERNAL_API_RATE_LIMIT: String(LIMIT), DISPATCH_CRON: '0 0 1 1 *' });
  /** @type {Awaited<ReturnType<typeof startService>>[]} */
  const processes = [];
  const db = new pg.Pool({ connectionString: names.databaseUrl, max: 2 });
  try {
    // Schema first (a worker that migrates and stops), then the seed loop alone on the fake API.
    await (await startService({ ...env, ROLE: 'worker', DISPATCH_ENABLED: 'false' })).stop();
    await insertPending(db, 'seed-', SEED_SAMPLE);
    const seed = await seedLoop(db, supplier.url, SEED_SAMPLE);
    await supplier.reset();

    await insertPending(db, 'bench-', ORDERS);
    processes.push(await startService({ ...env, ROLE: 'api', PORT: String(PORT) }));
    for (let i = 0; i < WORKERS; i++) processes.push(await startService({ ...env, ROLE: 'worker' }));
    const started = Date.now();
    const run = await fetch(`http://127.0.0.1:${PORT}/dispatch/run`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    if (!run.ok) throw new Error(`POST /dispatch/run answered ${run.status}: ${await run.text()}`);
    const { claimed } = /** @type {{ claimed: number }} */ (await run.json());
    /** @type {{ at: number, calls: number }[]} */
    const samples = [];
    for (;;) {
      const { rows } = await db.query(
        `SELECT count(*) FILTER (WHERE status IN ('COMPLETED', 'FAILED'))::int AS done FROM orders WHERE id LIKE 'bench-%'`,
      );
      samples.push({ at: Date.now(), calls: (await supplier.stats()).calls });
      if (process.env.BENCH_VERBOSE) console.error(`${Date.now() - started} ms: calls ${samples.at(-1)?.calls}, done ${rows[0].done}`);
      if (rows[0].done >= ORDERS) break;
      if (Date.now() - started > 10 * 60_000) throw new Error(`dispatch stalled at ${rows[0].done}/${ORDERS}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const seconds = (Date.now() - started) / 1000;
    const stats = await supplier.stats({ keys: true });
    const rate = ORDERS / seconds;
    // Sustained rate: calls between 10% and 90% of the run, without the start and the tail.
    const from = samples.find((sample) => sample.calls >= ORDERS * 0.1);
    const to = samples.find((sample) => sample.calls >= ORDERS * 0.9);
    const sustained = from && to && to.at > from.at ? (to.calls - from.calls) / ((to.at - from.at) / 1000) : NaN;
    const duplicates = Object.values(stats.perKey ?? {}).filter((key) => key.sideEffects > 1).length + stats.duplicateSideEffects;
    const { rows: failed } = await db.query(`SELECT count(*)::int AS n FROM orders WHERE id LIKE 'bench-%' AND status = 'FAILED'`);
    return printTable(
      `Dispatch (${ORDERS.toLocaleString('en-US')} PENDING orders, fake API ${LATENCY_MS} ms latency and ${LIMIT}/s limit, ${WORKERS} worker processes)`,
      [
        {
          measure: 'orders sent per second',
          value: rate,
          unit: '/s',
          baseline: seed.rate,
          baselineUnit: '/s (seed loop)',
          ratio: rate / seed.rate,
        },
        {
          measure: 'share of the rate limit used, end to end (claim to every result stored)',
          value: rate / LIMIT,
          unit: '',
          baseline: seed.rate / LIMIT,
          ratio: rate / seed.rate,
          target: '≥ 0.95',
        },
        {
          measure: 'share of the rate limit used, sustained (10%–90% of calls)',
          value: sustained / LIMIT,
          unit: '',
          baseline: seed.rate / LIMIT,
          ratio: sustained / seed.rate,
          target: '≥ 0.95',
        },
        {
          measure: `time to send ${ORDERS.toLocaleString('en-US')}`,
          value: seconds,
          unit: 's',
          baseline: ORDERS / seed.rate,
          baselineUnit: 's (seed loop, extrapolated)',
          ratio: seconds / (ORDERS / seed.rate),
        },
        { measure: 'orders claimed by one POST /dispatch/run', value: claimed, unit: '', target: `${ORDERS}` },
        { measure: '429s from the supplier (rejected for rate)', value: stats.rejectedForRate, unit: '', target: '0' },
        {
          measure: 'most calls in any sliding second (fake API)',
          value: stats.maxCallsPerSecond,
          unit: '',
          baseline: LIMIT,
          baselineUnit: '(the limit)',
          ratio: stats.maxCallsPerSecond / LIMIT,
        },
        { measure: 'orders with more than one side effect', value: duplicates, unit: '', target: '0' },
        { measure: 'orders FAILED', value: failed[0].n, unit: '', target: '0' },
      ],
    );
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    await supplier.stop();
    await db.end();
    await cleanup(names);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchDispatch();
