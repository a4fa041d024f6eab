// @ts-check
// Sweep: 100,000 orders at a fake 1688 Open API (tools/fake-1688-open-api.mjs, getBuyerOrderList
// 50 per page), every one linked to an order of ours and in step, then 1,000 of them changed at
// 1688 with no push (refunds and closes, as in the demo and chaos scenario 8). POST
// /reconciliation/run (admin key) runs a pull and a sweep; GET /reconciliation says when the
// sweep finished, Postgres when the 1,000 are repaired. Figures: the share of
// ALIBABA_API_RATE_LIMIT the sweep used, its time and the time to every repair beside the
// minimum the limit allows (pages needed, plus get.buyerView re-reads, ÷ the limit), the most
// calls in any sliding second at the fake (its own exact count), gw.Qos refusals, and whether
// exactly the drifted orders changed.
//
// Our side of the 100,000 is inserted with SQL straight into the bench's own database after the
// migrations (COMPLETED orders, supplier status and time as a push would have left them), as if
// they had been created, dispatched and pushed long ago; the fake's orders are seeded through its
// control API. The schedules are off (RECONCILE_CRON, PUSH_PULL_CRON): only the run asked for runs.
//
//   node bench/sweep.mjs
//
// BENCH_SWEEP_ORDERS (100000), BENCH_SWEEP_DRIFTED (1000), BENCH_SWEEP_LIMIT (20: the
// ALIBABA_API_RATE_LIMIT given to the service and the fake's own limit; 2,000 pages take 100 s at
// least), BENCH_SWEEP_LATENCY_MS (5) and BENCH_SWEEP_JITTER_MS (3) of every answer at the fake,
// BENCH_SWEEP_WORKERS (2 worker processes besides one ROLE=api), BENCH_SWEEP_SEED (1688).
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { spawnFake1688OpenApi } from '../tools/fake-1688-open-api.mjs';
import { SILENT_NEXT, changeOrderStatuses } from '../tools/simulator-1688.mjs';
import { mulberry32 } from '../tools/lib/harness-prng.mjs';
import { alibabaSyncEnv, fake1688Credentials } from '../tools/lib/harness-secrets.mjs';
import { ADMIN_KEY, API_KEY, cleanup, isolated, printTable, serviceEnv, startService } from './lib.mjs';

const ORDERS = Number(process.env.BENCH_SWEEP_ORDERS ?? 100_000);
const DRIFTED = Number(process.env.BENCH_SWEEP_DRIFTED ?? 1_000);
const LIMIT = Number(process.env.BENCH_SWEEP_LIMIT ?? 20);
const LATENCY_MS = Number(process.env.BENCH_SWEEP_LATENCY_MS ?? 5);
const JITTER_MS = Number(process.env.BENCH_SWEEP_JITTER_MS ?? 3);
const WORKERS = Number(process.env.BENCH_SWEEP_WORKERS ?? 2);
const SEED = Number(process.env.BENCH_SWEEP_SEED ?? 1688);
/** The sweep's page (src/reconciliation/sweep.service.ts PAGE_SIZE), getBuyerOrderList's maximum. */
const PAGE_SIZE = 50;
/** The fleet gate's margin (src/alibaba/alibaba-api.client.ts RATE_MARGIN_MS): at most LIMIT calls in any 1,050 ms. */
const GATE_MARGIN_MS = 50;
/** The fake's order ids: idBase + 1 … idBase + ORDERS, above 2^53 as 1688's are. */
const ID_BASE = 167539019430000000n;
/** The orders were created over the last 20 hours (inside RECONCILE_LOOKBACK_MS, 24 h, of the first sweep). */
const SPAN_MS = 20 * 3_600_000;
const BUYER_ORDER_LIST = 'alibaba.trade.getBuyerOrderList';
const BUYER_VIEW = 'alibaba.trade.get.buyerView';

/** 1688 statuses as a buyer's orders of the last day spread over them (share of the orders). */
const STATUS_MIX = /** @type {const} */ ([
  ['waitbuyerpay', 0.05],
  ['waitsellersend', 0.15],
  ['waitbuyerreceive', 0.2],
  ['confirm_goods', 0.1],
  ['success', 0.45],
  ['cancel', 0.05],
]);
/** supplier_status_rank as the applier writes it (src/orders/supplier-status.ts LIFECYCLE). */
const RANK = /** @type {Record<string, number>} */ ({
  waitbuyerpay: 10,
  waitsellersend: 20,
  waitbuyerreceive: 30,
  confirm_goods: 40,
  success: 50,
  cancel: 60,
  terminated: 60,
});

/**
 * @typedef {{ id: string, orderId: string, status: string, createTime: number, modifyTime: number }} SeededOrder
 * @typedef {{ startedAt: string, finishedAt: string | null, outcome: 'ok' | 'failed' | null, trigger: string, counts: Record<string, number>, error: string | null }} SyncRun
 * @typedef {{ enabled: boolean, sweep: { last: SyncRun | null }, pull: { last: SyncRun | null } }} ReconciliationView
 * @typedef {{ at: number, listCalls: number, repaired: number }} Sample
 */

const fmt = (/** @type {number} */ n) => n.toLocaleString('en-US');

/**
 * The orders at 1688 and ours: supplier order ids in creation order, statuses from STATUS_MIX,
 * each modified up to 2 h after its creation (and at least a minute ago).
 *
 * @param {number} now
 * @returns {SeededOrder[]}
 */
function planOrders(now) {
  const rng = mulberry32(SEED);
  const step = SPAN_MS / ORDERS;
  /** @type {SeededOrder[]} */
  const orders = new Array(ORDERS);
  for (let i = 0; i < ORDERS; i++) {
    const createTime = Math.round(now - SPAN_MS + i * step);
    const modifyTime = Math.min(now - 60_000, createTime + Math.round(rng() * 7_200_000));
    let u = rng();
    let status = STATUS_MIX[STATUS_MIX.length - 1][0];
    for (const [name, share] of STATUS_MIX) {
      if ((u -= share) < 0) {
        status = name;
        break;
      }
    }
    orders[i] = { id: String(ID_BASE + BigInt(i + 1)), orderId: `sweep-${String(i + 1).padStart(6, '0')}`, status, createTime, modifyTime };
  }
  return orders;
}

/**
 * Our side: COMPLETED orders linked to the supplier orders, their supplier status as the push that
 * brought it left it (supplier_status_at and _born its modifyTime, the lifecycle rank).
 *
 * @param {pg.Client} db
 * @param {SeededOrder[]} orders
 */
async function insertOurs(db, orders) {
  for (let from = 0; from < orders.length; from += 10_000) {
    const chunk = orders.slice(from, from + 10_000);
    await db.query(
      `INSERT INTO orders (id, status, payload, supplier_order_id, supplier_status, supplier_status_at, supplier_status_born,
                           supplier_status_rank, attempts, created_at, updated_at)
       SELECT id, 'COMPLETED', jsonb_build_object('sku', 'SKU-' || right(id, 4), 'quantity', 1), supplier_order_id, supplier_status,
              to_timestamp(at_ms / 1000.0), at_ms, rank, 1, to_timestamp(created_ms / 1000.0), to_timestamp(at_ms / 1000.0)
       FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::smallint[], $6::bigint[])
         AS i(id, supplier_order_id, supplier_status, at_ms, rank, created_ms)`,
      [
        chunk.map((o) => o.orderId),
        chunk.map((o) => o.id),
        chunk.map((o) => o.status),
        chunk.map((o) => o.modifyTime),
        chunk.map((o) => RANK[o.status] ?? 0),
        chunk.map((o) => o.createTime - 60_000),
      ],
    );
  }
  await db.query('ANALYZE orders');
}

/**
 * DRIFTED orders spread evenly over the ones a refund or close can still happen to.
 *
 * @param {SeededOrder[]} orders
 */
function pickDrift(orders) {
  const candidates = orders.filter((o) => SILENT_NEXT[o.status] !== undefined);
  if (candidates.length < DRIFTED) throw new Error(`only ${candidates.length} orders can drift, ${DRIFTED} asked`);
  const step = candidates.length / DRIFTED;
  return Array.from({ length: DRIFTED }, (_, k) => {
    const order = /** @type {SeededOrder} */ (candidates[Math.floor(k * step + step / 2)]);
    return { orderId: order.id, status: /** @type {string} */ (SILENT_NEXT[order.status]) };
  });
}

/**
 * @param {string} base
 * @param {string} path
 * @param {{ method?: string, key?: string }} [options]
 */
async function call(base, path, { method = 'GET', key = API_KEY } = {}) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}` },
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text.slice(0, 300)}`);
  return /** @type {unknown} */ (text ? JSON.parse(text) : null);
}

/**
 * Drifted orders whose supplier status here is 1688's new one.
 *
 * @param {pg.Client} db
 * @param {{ orderId: string, status: string }[]} drift
 * @returns {Promise<number>}
 */
async function repairedCount(db, drift) {
  const { rows } = await db.query(
    `SELECT count(*)::int AS n FROM unnest($1::text[], $2::text[]) AS d(supplier_order_id, status)
     JOIN orders o USING (supplier_order_id) WHERE o.supplier_status = d.status`,
    [drift.map((d) => d.orderId), drift.map((d) => d.status)],
  );
  return rows[0].n;
}

/** @param {Record<string, number>} tally */
const tallyText = (tally) =>
  Object.entries(tally)
    .sort(([, a], [, b]) => b - a)
    .map(([name, n]) => `${name} ${fmt(n)}`)
    .join(', ') || 'none';

export async function benchSweep() {
  const names = isolated('sweep');
  const fake = await spawnFake1688OpenApi({
    ...fake1688Credentials(),
    rateLimit: LIMIT,
    latencyMs: LATENCY_MS,
    latencyJitterMs: JITTER_MS,
    seed: SEED,
    startTimeoutMs: 10_000,
  });
  const env = serviceEnv(names, {
    ...alibabaSyncEnv(fake.url),
    ALIBABA_API_RATE_LIMIT: String(LIMIT),
    RECONCILE_CRON: 'off',
    PUSH_PULL_CRON: 'off',
  });
  /** @type {Awaited<ReturnType<typeof startService>>[]} */
  const processes = [];
  const db = new pg.Client({ connectionString: names.databaseUrl });
  let dbOpen = false;
  try {
    // Schema first (a worker that migrates and stops, syncing off), then both sides of the orders.
    await (await startService({ ...env, ROLE: 'worker', ALIBABA_SYNC_ENABLED: 'false' })).stop();
    await db.connect();
    dbOpen = true;
    const seedStarted = performance.now();
    const orders = planOrders(Date.now());
    await insertOurs(db, orders);
    const added = /** @type {{ added: number }} */ (
      await fake.admin('POST', '/_admin/orders', {
        orders: orders.map((o) => ({ id: o.id, status: o.status, createTime: o.createTime, modifyTime: o.modifyTime })),
      })
    );
    if (added.added !== ORDERS) throw new Error(`the fake took ${added.added} of ${ORDERS} orders`);
    const drift = pickDrift(orders);
    const changed = await changeOrderStatuses(fake.baseUrl, drift);
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    /** @type {Map<string, string>} supplier order id -> 1688's status now */
    const expected = new Map(orders.map((o) => [o.id, o.status]));
    for (const c of changed) expected.set(c.orderId, c.status);
    /** @type {Record<string, number>} */
    const driftKinds = {};
    for (const d of drift) {
      const kind = `${orders[Number(BigInt(d.orderId) - ID_BASE - 1n)]?.status} → ${d.status}`;
      driftKinds[kind] = (driftKinds[kind] ?? 0) + 1;
    }

    const apiProcess = await startService({ ...env, ROLE: 'api', PORT: '0' });
    processes.push(apiProcess);
    for (let i = 0; i < WORKERS; i++) processes.push(await startService({ ...env, ROLE: 'worker' }));
    const base = `http://127.0.0.1:${apiProcess.port}`;
    if ((await repairedCount(db, drift)) !== 0) throw new Error('drifted orders are in step before any sweep');
    await fake.admin('POST', '/_admin/reset-stats');

    // The run, timed from the POST: GET /reconciliation for the sweep, Postgres for the repairs.
    const postAt = Date.now();
    const postPerf = performance.now();
    await call(base, '/reconciliation/run', { method: 'POST', key: ADMIN_KEY });
    const minSeconds = Math.ceil(ORDERS / PAGE_SIZE) / LIMIT;
    const deadline = postPerf + (minSeconds * 3 + 120) * 1000;
    /** @type {Sample[]} */
    const samples = [];
    /** @type {SyncRun | null} */
    let sweep = null;
    /** @type {SyncRun | null} */
    let pull = null;
    let repairedAt = NaN;
    let repaired = 0;
    for (;;) {
      const [view, stats, count] = await Promise.all([
        /** @type {Promise<ReconciliationView>} */ (call(base, '/reconciliation')),
        /** @type {Promise<import('../tools/lib/fake-1688-core.mjs').Fake1688Stats>} */ (fake.admin('GET', '/_admin/stats')),
        repairedCount(db, drift),
      ]);
      const now = performance.now();
      repaired = count;
      samples.push({ at: now, listCalls: stats.callsByApi[BUYER_ORDER_LIST] ?? 0, repaired });
      if (repaired >= DRIFTED && Number.isNaN(repairedAt)) repairedAt = now;
      const last = view.sweep.last;
      if (last && Date.parse(last.startedAt) >= postAt - 1_000) sweep = last;
      const lastPull = view.pull.last;
      if (lastPull && Date.parse(lastPull.startedAt) >= postAt - 1_000) pull = lastPull;
      if (process.env.BENCH_VERBOSE)
        console.error(`${((now - postPerf) / 1000).toFixed(1)} s: ${BUYER_ORDER_LIST} ${samples.at(-1)?.listCalls}, repaired ${repaired}`);
      if (sweep?.outcome === 'failed') throw new Error(`the sweep failed: ${sweep.error}`);
      if (sweep?.finishedAt && !Number.isNaN(repairedAt)) break;
      // Finished without every repair: give the queued repairs a few seconds, then stop waiting.
      if (sweep?.finishedAt && Date.now() - Date.parse(sweep.finishedAt) > 30_000) break;
      if (now > deadline) throw new Error(`no finished sweep with every repair after ${((now - postPerf) / 1000).toFixed(0)} s`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    if (!sweep?.finishedAt) throw new Error('no sweep run');
    const wallSeconds = (repairedAt - postPerf) / 1000;
    const sweepSeconds = (Date.parse(sweep.finishedAt) - Date.parse(sweep.startedAt)) / 1000;
    const queuedSeconds = (Date.parse(sweep.startedAt) - postAt) / 1000;
    const stats = /** @type {import('../tools/lib/fake-1688-core.mjs').Fake1688Stats} */ (await fake.admin('GET', '/_admin/stats'));
    const listCalls = stats.callsByApi[BUYER_ORDER_LIST] ?? 0;
    const viewCalls = stats.callsByApi[BUYER_VIEW] ?? 0;
    const pages = sweep.counts.pages ?? 0;
    const staleRead = sweep.counts.staleRead ?? 0;
    const pagesNeeded = Math.ceil(ORDERS / PAGE_SIZE);
    const neededSeconds = (pagesNeeded + staleRead) / LIMIT;
    const sweepCalls = listCalls + viewCalls;
    const share = sweepCalls / (LIMIT * sweepSeconds);
    const shareWall = stats.calls / (LIMIT * ((Date.parse(sweep.finishedAt) - postAt) / 1000));
    // Sustained: getBuyerOrderList calls between 10% and 90% of the pages, without the start and the end.
    const from = samples.find((s) => s.listCalls >= pages * 0.1);
    const to = samples.find((s) => s.listCalls >= pages * 0.9);
    const sustained = from && to && to.at > from.at ? (to.listCalls - from.listCalls) / ((to.at - from.at) / 1000) / LIMIT : NaN;
    const gateCeiling = 1000 / (1000 + GATE_MARGIN_MS);

    // Nothing else changed: every order's supplier status here against 1688's, EXTERNAL ones, the history.
    const { rows } = await db.query(`SELECT supplier_order_id, supplier_status, status FROM orders`);
    let wrong = 0;
    let external = 0;
    const driftIds = new Set(drift.map((d) => d.orderId));
    let unchangedWrong = 0;
    for (const row of rows) {
      if (row.status === 'EXTERNAL') external++;
      if (row.supplier_order_id === null) continue;
      if (expected.get(row.supplier_order_id) !== row.supplier_status) {
        wrong++;
        if (!driftIds.has(row.supplier_order_id)) unchangedWrong++;
      }
    }
    const { rows: history } = await db.query(
      `SELECT outcome, count(*)::int AS n FROM order_history WHERE kind = 'supplier_message' AND source = '1688-reconcile' GROUP BY outcome`,
    );
    /** @type {Record<string, number>} */
    const reconcileHistory = Object.fromEntries(history.map((r) => [r.outcome, r.n]));
    const failures = [
      repaired !== DRIFTED && `${fmt(repaired)} of ${fmt(DRIFTED)} drifted orders repaired`,
      unchangedWrong > 0 && `${fmt(unchangedWrong)} orders that did not drift changed`,
      external > 0 && `${fmt(external)} EXTERNAL orders created`,
      stats.maxCallsPerSecond > LIMIT && `${stats.maxCallsPerSecond} calls in one sliding second (limit ${LIMIT})`,
      stats.rejectedForRate > 0 && `${stats.rejectedForRate} calls refused with gw.Qos`,
      (sweep.counts.examined ?? 0) !== ORDERS && `the sweep examined ${fmt(sweep.counts.examined ?? 0)} of ${fmt(ORDERS)} orders`,
    ].filter((f) => typeof f === 'string');

    const table = printTable(
      `Sweep (${fmt(ORDERS)} orders at the fake 1688, ${PAGE_SIZE} per page, ${fmt(DRIFTED)} drifted with no push; ALIBABA_API_RATE_LIMIT=${LIMIT}/s, the fake's limit too; answers ${LATENCY_MS} ± ${JITTER_MS} ms; 1 api + ${WORKERS} worker processes)`,
      [
        {
          measure: 'share of the rate limit used by the sweep (its calls ÷ (limit × its run time))',
          value: share,
          unit: '',
          baseline: 1,
          baselineUnit: '(the limit)',
          ratio: share,
          target: '≥ 0.90',
        },
        {
          measure: `share of the rate limit used, sustained (10%–90% of the pages; the fleet gate allows at most ${gateCeiling.toFixed(3)})`,
          value: sustained,
          unit: '',
          baseline: 1,
          baselineUnit: '(the limit)',
          ratio: sustained,
          target: '≥ 0.90',
        },
        {
          measure: 'sweep run time (GET /reconciliation startedAt → finishedAt)',
          value: sweepSeconds,
          unit: 's',
          baseline: neededSeconds,
          baselineUnit: `s (the limit's minimum: ${fmt(pagesNeeded)} pages${staleRead ? ` + ${fmt(staleRead)} re-reads` : ''} ÷ ${LIMIT}/s)`,
          ratio: sweepSeconds / neededSeconds,
        },
        {
          measure: `time to find and repair ${fmt(DRIFTED)} drifted orders (POST /reconciliation/run → all repaired in Postgres, sampled every 250 ms)`,
          value: wallSeconds,
          unit: 's',
          baseline: neededSeconds,
          baselineUnit: "s (the limit's minimum)",
          ratio: wallSeconds / neededSeconds,
        },
        { measure: 'from the POST to the sweep starting (queue)', value: queuedSeconds, unit: 's' },
        {
          measure: 'time per page (sweep run time ÷ pages)',
          value: (sweepSeconds * 1000) / Math.max(1, pages),
          unit: 'ms',
          baseline: 1000 / LIMIT,
          baselineUnit: 'ms (1 s ÷ limit)',
          ratio: (sweepSeconds * LIMIT) / Math.max(1, pages),
        },
        {
          measure: 'share of the rate limit used, POST → sweep finished (every call, the pull included)',
          value: shareWall,
          unit: '',
          baseline: 1,
          baselineUnit: '(the limit)',
          ratio: shareWall,
        },
        {
          measure: `pages read (${BUYER_ORDER_LIST})`,
          value: fmt(pages),
          unit: '',
          baseline: fmt(pagesNeeded),
          baselineUnit: '(needed)',
          ratio: pages / pagesNeeded,
        },
        { measure: 'calls at the fake by API', value: tallyText(stats.callsByApi), unit: '' },
        { measure: 'get.buyerView re-reads (stale linked orders)', value: fmt(staleRead), unit: '' },
        {
          measure: 'most calls in any sliding second (the fake counts)',
          value: fmt(stats.maxCallsPerSecond),
          unit: '',
          baseline: fmt(LIMIT),
          baselineUnit: '(the limit)',
          ratio: stats.maxCallsPerSecond / LIMIT,
          target: `≤ ${LIMIT}`,
        },
        { measure: 'calls refused with gw.Qos by the fake', value: fmt(stats.rejectedForRate), unit: '', target: '0' },
        { measure: 'orders examined by the sweep', value: fmt(sweep.counts.examined ?? 0), unit: '', target: fmt(ORDERS) },
        {
          measure: 'drifted orders found (sweep counts: drifted / unknown)',
          value: `${fmt(sweep.counts.drifted ?? 0)} / ${fmt(sweep.counts.unknown ?? 0)}`,
          unit: '',
          target: `${fmt(DRIFTED)} / 0`,
        },
        { measure: 'drifted orders repaired (supplier status = 1688 in Postgres)', value: fmt(repaired), unit: '', target: fmt(DRIFTED) },
        { measure: 'orders that did not drift but changed', value: fmt(unchangedWrong), unit: '', target: '0' },
        { measure: 'orders out of step with 1688 at the end (every order compared)', value: fmt(wrong), unit: '', target: '0' },
        { measure: 'EXTERNAL orders created', value: fmt(external), unit: '', target: '0' },
        { measure: '1688-reconcile history rows (applied / ignored)', value: tallyText(reconcileHistory), unit: '' },
        { measure: 'drift kinds', value: tallyText(driftKinds), unit: '' },
        { measure: 'seeding both sides (not timed in the figures above)', value: seedSeconds, unit: 's' },
        {
          measure: 'pull run (same POST)',
          value: pull
            ? `${pull.outcome ?? 'running'}, ${fmt(pull.counts.pages ?? 0)} pages, ${fmt(pull.counts.pulled ?? 0)} pulled`
            : 'none seen',
          unit: '',
        },
      ],
    );
    if (failures.length > 0) {
      console.error(`sweep benchmark: checks failed: ${failures.join('; ')}`);
      process.exitCode = 1;
      return `${table}\n\n**checks failed**: ${failures.join('; ')}`;
    }
    return table;
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    await fake.stop();
    if (dbOpen) await db.end();
    await cleanup(names);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchSweep();
