// @ts-check
// Freshness: time from a 1688 push's 2xx ack to its status being readable, while pushes
// arrive at a steady 2,000/s (open loop: sends are scheduled by the clock, not by answers).
// One API process and one worker process; a sample of the pushes is watched in Postgres, the
// table GET /orders reads, and a handful is checked through GET /orders?supplierOrderId= at
// the end. Baseline: the same measurement at a light load in the same run.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { Redis } from 'ioredis';
import { API_KEY, REDIS_URL, cleanup, isolated, percentile, printTable, pushBody, serviceEnv, startService } from './lib.mjs';

const env = process.env;
const SECONDS = Number(env.BENCH_FRESHNESS_SECONDS ?? 60);
const RATE = Number(env.BENCH_FRESHNESS_RATE ?? 2_000);
const LIGHT_SECONDS = Number(env.BENCH_FRESHNESS_LIGHT_SECONDS ?? 10);
const LIGHT_RATE = Number(env.BENCH_FRESHNESS_LIGHT_RATE ?? 100);
/** 1 push in SAMPLE_EVERY is watched at the heavy rate; the light run watches as many per second. */
const SAMPLE_EVERY = Number(env.BENCH_FRESHNESS_SAMPLE_EVERY ?? 20);
const PORT = Number(env.BENCH_FRESHNESS_PORT ?? 3993);
const MAX_IN_FLIGHT = 512;
/** Keep-alive connections the sender may open; requests beyond them wait in the agent (and count in the ack time). */
const SOCKETS = Number(env.BENCH_FRESHNESS_SOCKETS ?? 64);
const TICK_MS = 2;
const POLL_MS = 5;
/** A sample not readable this long after its ack counts as unreadable. */
const READ_TIMEOUT_MS = 30_000;
const STATUS = 'waitsellersend';
const OLD_CRON_MS = 5 * 60_000; // the cron this replaces: status readable after up to 5 min

const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));
let nextMsgId = 3_000_000_000;

/**
 * CPU seconds a process has used so far (Linux /proc; NaN elsewhere).
 *
 * @param {number | undefined} pid
 * @returns {number}
 */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in USER_HZ (100)
  } catch {
    return NaN;
  }
}

/** The kernel's count of connections dropped because a listen queue was full (whole machine; Linux). */
function listenOverflows() {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('TcpExt:'));
    const [names, values] = lines.map((line) => line.split(/\s+/));
    return Number(values[names.indexOf('ListenOverflows')]);
  } catch {
    return NaN;
  }
}

/**
 * CPU seconds of Redis (all of it: INFO cpu) and of this database's Postgres backends, so far.
 *
 * @param {Redis} redis
 * @param {pg.Pool} db
 * @param {string} databaseName
 * @returns {Promise<{ redis: number, postgres: Map<number, number> }>}
 */
async function serverCpu(redis, db, databaseName) {
  const info = await redis.info('cpu');
  const field = (/** @type {string} */ name) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1]);
  const { rows } = await db.query('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [databaseName]);
  return { redis: field('used_cpu_user') + field('used_cpu_sys'), postgres: new Map(rows.map(({ pid }) => [pid, cpuSeconds(pid)])) };
}

/**
 * Sends `rate`/s for `seconds`, watches 1 in `sampleEvery`, and answers the figures.
 *
 * @param {object} options
 * @param {number} options.rate
 * @param {number} options.seconds
 * @param {number} options.sampleEvery
 * @param {pg.Pool} options.db
 * @param {number} options.deadline
 * @param {Record<string, number | undefined>} [options.pids] processes whose CPU is measured, by name
 * @param {Redis} [options.redis] with `databaseName`: measure the CPU of Redis and of the Postgres backends too
 * @param {string} [options.databaseName]
 */
async function phase({ rate, seconds, sampleEvery, db, deadline, pids = {}, redis, databaseName }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: SOCKETS });
  const total = Math.round(rate * seconds);
  /** @type {Map<string, number>} */
  const outstanding = new Map(); // supplier order id -> ack time
  /** @type {number[]} */
  const freshness = [];
  /** @type {string[]} */
  const readIds = [];
  /** @type {number[]} */
  const ackLatencies = [];
  let sent = 0;
  let inFlight = 0;
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let unreadable = 0;
  let cappedTicks = 0;
  let lastAck = 0;
  let lastSend = 0;
  let sendingDone = false;
  let start = 0;
  let aborted = false;
  /** @type {Map<number | string, number>} HTTP status or error code -> count */
  const statuses = new Map();

  const send = () => {
    const index = sent++;
    const sampled = index % sampleEvery === 0;
    const { orderId, body } = pushBody(nextMsgId++, { status: STATUS });
    // Latency from the moment the clock scheduled the send, so that sends held back by the cap count too.
    const scheduledAt = start + (index / rate) * 1000;
    lastSend = performance.now();
    inFlight++;
    const request = http.request(
      {
        agent,
        host: '127.0.0.1',
        port: PORT,
        path: '/webhooks/1688',
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        response.resume();
        response.on('end', () => {
          const ackAt = performance.now();
          inFlight--;
          lastAck = ackAt;
          ackLatencies.push(ackAt - scheduledAt);
          // A client request's response always has its status code.
          if (/** @type {number} */ (response.statusCode) >= 200 && /** @type {number} */ (response.statusCode) < 300) {
            ok++;
            if (sampled) outstanding.set(orderId, ackAt);
          } else {
            non2xx++;
            statuses.set(/** @type {number} */ (response.statusCode), (statuses.get(/** @type {number} */ (response.statusCode)) ?? 0) + 1);
          }
        });
      },
    );
    request.setTimeout(10_000, () => request.destroy(new Error('timeout')));
    request.on('error', (error) => {
      inFlight--;
      errors++;
      const key = /** @type {NodeJS.ErrnoException} */ (error).code ?? error.message;
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
    });
    request.end(body);
  };

  const serverAtStart = redis ? await serverCpu(redis, db, /** @type {string} */ (databaseName)) : null;
  const overflowsAtStart = listenOverflows();
  start = performance.now();
  /** @type {{ generator: NodeJS.CpuUsage, [name: string]: NodeJS.CpuUsage | number }} */
  const cpuAtStart = {
    generator: process.cpuUsage(),
    ...Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)])),
  };
  /** @type {Promise<void>} */
  const sender = new Promise((resolve) => {
    const timer = setInterval(() => {
      if (aborted || Date.now() > deadline) {
        clearInterval(timer);
        sendingDone = true;
        resolve();
        return;
      }
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
      while (sent < due && inFlight < MAX_IN_FLIGHT) send();
      if (sent < due) cappedTicks++;
      if (sent >= total) {
        clearInterval(timer);
        sendingDone = true;
        resolve();
      }
    }, TICK_MS);
  });

  // Batched poll of every sample still waiting; the time a row is first seen is the time it was readable.
  const poller = (async () => {
    while (!sendingDone || inFlight > 0 || outstanding.size > 0) {
      if (Date.now() > deadline) throw new Error('freshness bench passed its hard deadline');
      if (outstanding.size > 0) {
        const ids = [...outstanding.keys()];
        const { rows } = await db.query(
          'SELECT supplier_order_id FROM orders WHERE supplier_order_id = ANY($1::text[]) AND supplier_status = $2',
          [ids, STATUS],
        );
        const seenAt = performance.now();
        for (const { supplier_order_id: id } of rows) {
          const ackAt = outstanding.get(id);
          if (ackAt === undefined) continue;
          freshness.push(seenAt - ackAt);
          readIds.push(id);
          outstanding.delete(id);
        }
        for (const [id, ackAt] of outstanding) {
          if (seenAt - ackAt > READ_TIMEOUT_MS) {
            unreadable++;
            outstanding.delete(id);
          }
        }
      }
      await sleep(POLL_MS);
    }
  })().catch((error) => {
    aborted = true;
    throw error;
  });
  // Awaited only after the sender: until then a failure must not count as unhandled (Node would
  // exit at once, skipping the cleanup); `await poller` below still throws it.
  poller.catch(() => {});

  /** @type {Record<string, number>} CPU over the sending window, % of one core, by process or server */
  let cpu;
  try {
    await sender;
    // CPU over the sending window, as % of one core.
    const wall = (performance.now() - start) / 1000;
    const generator = process.cpuUsage(cpuAtStart.generator);
    cpu = { generator: ((generator.user + generator.system) / 1e6 / wall) * 100 };
    for (const [name, pid] of Object.entries(pids)) cpu[name] = ((cpuSeconds(pid) - /** @type {number} */ (cpuAtStart[name])) / wall) * 100;
    if (serverAtStart) {
      const now = await serverCpu(/** @type {Redis} */ (redis), db, /** @type {string} */ (databaseName));
      cpu.redis = ((now.redis - serverAtStart.redis) / wall) * 100;
      let postgres = 0;
      for (const [pid, used] of now.postgres) postgres += used - (serverAtStart.postgres.get(pid) ?? 0);
      cpu.postgres = (postgres / wall) * 100;
    }
    await poller;
  } finally {
    agent.destroy();
  }
  freshness.sort((a, b) => a - b);
  ackLatencies.sort((a, b) => a - b);
  const sendSeconds = (lastSend - start) / 1000;
  return {
    sent,
    ok,
    non2xx: non2xx + errors,
    statuses: Object.fromEntries(statuses),
    errors,
    offeredRate: sent / Math.max(sendSeconds, 1e-3),
    achievedRate: ok / Math.max((lastAck - start) / 1000, 1e-3),
    cappedTicks,
    samples: freshness.length,
    unreadable,
    readIds,
    p50: percentile(freshness, 50),
    p95: percentile(freshness, 95),
    p99: percentile(freshness, 99),
    max: freshness[freshness.length - 1] ?? NaN,
    ackP99: percentile(ackLatencies, 99),
    cpu,
    listenOverflows: listenOverflows() - overflowsAtStart,
  };
}

/**
 * @typedef {object} OrderItem what GET /orders answers of an order (the fields checked here)
 * @property {string} supplierOrderId
 * @property {string} supplierStatus
 * @property {string} status
 */

/**
 * Reads a few samples back through the real route; answers how many showed the status, and the read latencies.
 *
 * @param {string[]} ids
 */
async function validateThroughApi(ids) {
  let good = 0;
  /** @type {number[]} */
  const latencies = [];
  for (const id of ids) {
    const started = performance.now();
    const response = await fetch(`http://127.0.0.1:${PORT}/orders?supplierOrderId=${encodeURIComponent(id)}`, {
      headers: { authorization: `Bearer ${API_KEY}` },
      signal: AbortSignal.timeout(10_000),
    });
    const body = /** @type {{ items: OrderItem[] }} */ (await response.json());
    latencies.push(performance.now() - started);
    const item = body?.items?.[0];
    if (
      response.ok &&
      body.items.length === 1 &&
      item.supplierOrderId === id &&
      item.supplierStatus === STATUS &&
      item.status === 'EXTERNAL'
    )
      good++;
  }
  latencies.sort((a, b) => a - b);
  return { good, checked: ids.length, p50: percentile(latencies, 50) };
}

/** @returns {Promise<string>} the Markdown table */
export async function benchFreshness() {
  const deadline = Date.now() + (SECONDS + LIGHT_SECONDS + 5) * 1000 + 3 * 60_000;
  const names = isolated('freshness');
  const services = [];
  let db;
  let redis;
  try {
    // The schema exists before timing starts: a short-lived worker migrates it.
    await (await startService(serviceEnv(names, { ROLE: 'worker' }))).stop();
    const started = await Promise.allSettled([
      startService(serviceEnv(names, { ROLE: 'api', PORT: String(PORT) })),
      startService(serviceEnv(names, { ROLE: 'worker' })),
    ]);
    for (const result of started) if (result.status === 'fulfilled') services.push(result.value);
    for (const result of started) if (result.status === 'rejected') throw result.reason;
    const pids = { api: services[0].child.pid, worker: services[1].child.pid };
    db = new pg.Pool({ connectionString: names.databaseUrl, max: 2, query_timeout: 10_000 });
    redis = new Redis(REDIS_URL);

    // Warm-up (not measured): connections, JIT, first batches.
    await phase({ rate: 500, seconds: 3, sampleEvery: 50, db, deadline });
    const lightEvery = Math.max(1, Math.round((SAMPLE_EVERY * LIGHT_RATE) / RATE)); // as many samples per second as the heavy run
    const light = await phase({
      rate: LIGHT_RATE,
      seconds: LIGHT_SECONDS,
      sampleEvery: lightEvery,
      db,
      deadline,
      pids,
      redis,
      databaseName: names.databaseName,
    });
    const heavy = await phase({
      rate: RATE,
      seconds: SECONDS,
      sampleEvery: SAMPLE_EVERY,
      db,
      deadline,
      pids,
      redis,
      databaseName: names.databaseName,
    });
    const step = Math.max(1, Math.floor(heavy.readIds.length / 20));
    const check = await validateThroughApi(heavy.readIds.filter((_, i) => i % step === 0).slice(0, 20));

    if (heavy.non2xx > 0 || light.non2xx > 0) {
      console.error(
        `non-2xx acks or errors by status/code: heavy ${JSON.stringify(heavy.statuses)}, light ${JSON.stringify(light.statuses)}`,
      );
    }
    const ratio = (/** @type {number} */ a, /** @type {number} */ b) => a / Math.max(b, 0.01);
    /** @type {import('./lib.mjs').Row[]} */
    const rows = [
      {
        measure: `pushes acked per second (offered ${RATE.toLocaleString('en-US')}/s)`,
        value: heavy.achievedRate,
        unit: '/s',
        baseline: light.achievedRate,
        ratio: ratio(heavy.achievedRate, light.achievedRate),
        target: `${RATE.toLocaleString('en-US')}/s`,
      },
      {
        measure: 'non-2xx acks or errors',
        value: `${heavy.non2xx} of ${heavy.sent.toLocaleString('en-US')}`,
        baseline: `${light.non2xx} of ${light.sent.toLocaleString('en-US')}`,
        target: '0',
      },
      {
        measure: 'ack p99 (scheduled send → 2xx, open loop)',
        value: heavy.ackP99,
        unit: 'ms',
        baseline: light.ackP99,
        ratio: ratio(heavy.ackP99, light.ackP99),
      },
      { measure: 'freshness p50 (ack → readable)', value: heavy.p50, unit: 'ms', baseline: light.p50, ratio: ratio(heavy.p50, light.p50) },
      { measure: 'freshness p95', value: heavy.p95, unit: 'ms', baseline: light.p95, ratio: ratio(heavy.p95, light.p95) },
      {
        measure: 'freshness p99',
        value: heavy.p99,
        unit: 'ms',
        baseline: light.p99,
        ratio: ratio(heavy.p99, light.p99),
        target: '≤ 250 ms',
      },
      { measure: 'freshness max', value: heavy.max, unit: 'ms', baseline: light.max, ratio: ratio(heavy.max, light.max) },
      {
        measure: 'freshness p99 against the old cron (readable after up to 5 min)',
        value: heavy.p99,
        unit: 'ms',
        baseline: OLD_CRON_MS,
        baselineUnit: 'ms (design)',
        ratio: heavy.p99 / OLD_CRON_MS,
      },
      {
        measure: `samples read (not readable within ${READ_TIMEOUT_MS / 1000} s)`,
        value: `${heavy.samples} (${heavy.unreadable})`,
        baseline: `${light.samples} (${light.unreadable})`,
        target: '(0)',
      },
      {
        measure: 'samples read back through GET /orders?supplierOrderId= after the run',
        value: `${check.good}/${check.checked} ok`,
        target: 'all ok',
      },
      { measure: 'GET /orders?supplierOrderId= latency p50 (idle, after the run)', value: check.p50, unit: 'ms' },
    ];
    for (const [name, label] of [
      ['api', 'API process'],
      ['worker', 'worker process'],
      ['redis', 'Redis server'],
      ['postgres', "service's Postgres backends"],
      ['generator', 'load generator (this process)'],
    ]) {
      const value = heavy.cpu?.[name];
      if (Number.isFinite(value))
        rows.push({
          measure: `CPU of the ${label} while sending, % of one core (${os.cpus().length} cores)`,
          value,
          unit: '%',
          baseline: light.cpu[name],
          ratio: ratio(value, light.cpu[name]),
        });
    }
    if (Number.isFinite(heavy.listenOverflows))
      rows.push({
        measure: 'listen-queue overflows (kernel counter, whole machine)',
        value: String(heavy.listenOverflows),
        baseline: String(light.listenOverflows),
        target: '0',
      });
    if (heavy.cappedTicks > 0)
      rows.push({
        measure: `sender ticks held back by the ${MAX_IN_FLIGHT} in-flight cap`,
        value: heavy.cappedTicks.toLocaleString('en-US'),
        baseline: String(light.cappedTicks),
      });
    return printTable(
      `Freshness (${RATE.toLocaleString('en-US')}/s for ${SECONDS} s, 1 API + 1 worker process, ${SOCKETS} keep-alive connections, 1 in ${SAMPLE_EVERY} watched; baseline: ${LIGHT_RATE}/s for ${LIGHT_SECONDS} s, 1 in ${lightEvery}; ` +
        `readable = row with the status seen in Postgres (what GET /orders reads), polled every ${POLL_MS} ms; load generator on the same machine)`,
      rows,
    );
  } finally {
    redis?.disconnect();
    await db?.end();
    await Promise.all(services.map((service) => service.stop()));
    await cleanup(names);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchFreshness();
