// @ts-check
// Scaling: what one more process buys on this machine, and what each unit of work costs in CPU.
// Ingest with 1, 2 and 4 ROLE=api processes (pushes spread over their ports), drain of a queued
// backlog with 1, 2 and 4 ROLE=worker processes, and one dispatch run; for each, the CPU time the
// service processes, Redis and the service's Postgres backends spent per push, per applied
// message and per dispatched order (read from /proc, so Linux only). Baseline of every scaling
// figure: one process, in the same run. docs/scaling.md turns the per-unit costs into a
// capacity model.
//
//   npm run build && node bench/scaling.mjs
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { Queue } from 'bullmq';
import pg from 'pg';
import { Redis } from 'ioredis';
import { spawnFakeSupplierApi } from '../tools/fake-supplier-api.mjs';
import {
  ADMIN_DATABASE_URL,
  ADMIN_KEY,
  REDIS_URL,
  cleanup,
  isolated,
  printTable,
  pushBodies,
  sendPushes,
  serviceEnv,
  startService,
} from './lib.mjs';

const PROCESS_COUNTS = (process.env.BENCH_SCALING_PROCESSES ?? '1,2,4').split(',').map(Number);
const INGEST_SECONDS = Number(process.env.BENCH_SCALING_INGEST_S ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const BACKLOG = Number(process.env.BENCH_SCALING_BACKLOG ?? 40_000);
const MESSAGES_PER_JOB = Number(process.env.BENCH_MESSAGES_PER_JOB ?? 10);
const DISPATCH_ORDERS = Number(process.env.BENCH_SCALING_DISPATCH_ORDERS ?? 4_000);
const FIRST_PORT = Number(process.env.BENCH_SCALING_PORT ?? 3501);
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used so far; 0 once it is gone. */
function cpuSeconds(/** @type {number} */ pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at state (field 3).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** CPU meters for the service processes, Redis and the service's Postgres backends. */
class CpuMeter {
  /**
   * @param {number[]} servicePids
   * @param {number} redisPid
   * @param {pg.Client} admin
   * @param {string} databaseName
   */
  constructor(servicePids, redisPid, admin, databaseName) {
    this.servicePids = servicePids;
    this.redisPid = redisPid;
    this.admin = admin;
    this.databaseName = databaseName;
    /** @type {Map<number, number>} */
    this.backendsAtStart = new Map();
    this.serviceAtStart = 0;
    this.redisAtStart = 0;
  }

  async backends() {
    const { rows } = await this.admin.query(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'ordersync'`, [
      this.databaseName,
    ]);
    return rows.map((r) => /** @type {number} */ (r.pid));
  }

  async start() {
    this.serviceAtStart = this.servicePids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
    this.redisAtStart = cpuSeconds(this.redisPid);
    for (const pid of await this.backends()) this.backendsAtStart.set(pid, cpuSeconds(pid));
  }

  /** CPU seconds used since start(), by part. Backends opened meanwhile count from zero. */
  async stop() {
    let postgres = 0;
    for (const pid of await this.backends()) postgres += cpuSeconds(pid) - (this.backendsAtStart.get(pid) ?? 0);
    return {
      service: this.servicePids.reduce((sum, pid) => sum + cpuSeconds(pid), 0) - this.serviceAtStart,
      redis: cpuSeconds(this.redisPid) - this.redisAtStart,
      postgres,
    };
  }
}

async function redisPid() {
  const redis = new Redis(REDIS_URL);
  const info = await redis.info('server');
  redis.disconnect();
  const match = /process_id:(\d+)/.exec(info);
  if (!match) throw new Error('Redis did not say its process id');
  return Number(match[1]);
}

/**
 * One queued 1688 message as the webhooks module queues it.
 *
 * @param {number} n
 */
function queuedMessage(n) {
  const orderId = String(167539019500000000n + BigInt(n));
  const now = new Date().toISOString();
  return {
    source: '1688',
    messageId: String(n),
    topic: 'ORDER_BUYER_VIEW_ORDER_PAY',
    receivedAt: now,
    body: `{"msgId":${n},"type":"ORDER_BUYER_VIEW_ORDER_PAY","gmtBorn":${Date.now()},"data":{"orderId":${orderId},"currentStatus":"waitsellersend"}}`,
    changes: [{ orderId: null, supplierOrderId: orderId, status: 'waitsellersend', occurredAt: now, bornAt: Date.now() }],
    ignoredReason: null,
    via: 'push',
  };
}

/**
 * Queues `count` messages from msgId `first` on, `MESSAGES_PER_JOB` per job.
 *
 * @param {import('./lib.mjs').Names} names
 * @param {number} first
 * @param {number} count
 */
async function queueBacklog(names, first, count) {
  const queue = new Queue('order-events', { connection: { url: REDIS_URL }, prefix: names.queuePrefix });
  const jobs = [];
  for (let i = 0; i < count; i += MESSAGES_PER_JOB) {
    const messages = Array.from({ length: Math.min(MESSAGES_PER_JOB, count - i) }, (_, k) => queuedMessage(first + i + k));
    jobs.push({ name: 'apply-messages', data: { messages }, opts: { jobId: `scaling-${first + i}`, attempts: 8, removeOnComplete: true } });
  }
  for (let i = 0; i < jobs.length; i += 1_000) await queue.addBulk(jobs.slice(i, i + 1_000));
  await queue.close();
}

/** @param {import('./lib.mjs').Names} names */
async function dropQueuedMessages(names) {
  const queue = new Queue('order-events', { connection: { url: REDIS_URL }, prefix: names.queuePrefix });
  await queue.obliterate({ force: true });
  await queue.close();
}

/** Polls `read` every 100 ms until it returns at least `target`; rejects after `timeoutMs`. */
async function waitAtLeast(/** @type {() => Promise<number>} */ read, /** @type {number} */ target, timeoutMs = 10 * 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value >= target) return;
    if (Date.now() > deadline) throw new Error(`stalled at ${value}/${target}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Signed pushes spread evenly over `count` API processes, closed loop.
 *
 * @param {import('./lib.mjs').Names} names
 * @param {number} count
 * @param {{ admin: pg.Client, redis: number }} meters
 */
async function ingestWith(names, count, meters) {
  const apis = await Promise.all(
    Array.from({ length: count }, (_, i) => startService(serviceEnv(names, { ROLE: 'api', PORT: String(FIRST_PORT + i) }))),
  );
  try {
    const meter = new CpuMeter(
      apis.map((api) => /** @type {number} */ (api.child.pid)),
      meters.redis,
      meters.admin,
      names.databaseName,
    );
    const perApi = Math.ceil((INGEST_SECONDS * 20_000) / count);
    await meter.start();
    const results = await Promise.all(
      apis.map((api, i) =>
        sendPushes(`http://127.0.0.1:${api.port ?? FIRST_PORT + i}/webhooks/1688`, {
          bodies: pushBodies(perApi, 10_000_000 * (count * 10 + i + 1)),
          connections: Math.max(1, Math.round(CONNECTIONS / count)),
          duration: INGEST_SECONDS,
        }),
      ),
    );
    const cpu = await meter.stop();
    const ok = results.reduce((sum, r) => sum + r.ok, 0);
    return { rps: ok / INGEST_SECONDS, ok, non2xx: results.reduce((sum, r) => sum + r.non2xx, 0), cpu };
  } finally {
    await Promise.all(apis.map((api) => api.stop()));
  }
}

/**
 * A queued backlog applied by `count` worker processes, timed from the moment all are up.
 *
 * @param {import('./lib.mjs').Names} names
 * @param {number} count
 * @param {number} first msgId
 * @param {{ admin: pg.Client, redis: number, db: pg.Pool }} meters
 */
async function drainWith(names, count, first, meters) {
  await queueBacklog(names, first, BACKLOG);
  const applied = async () =>
    /** @type {number} */ (
      (await meters.db.query(`SELECT count(*)::int AS n FROM inbox_messages WHERE message_id::bigint >= $1`, [first])).rows[0].n
    );
  const workers = await Promise.all(
    Array.from({ length: count }, () => startService(serviceEnv(names, { ROLE: 'worker', DISPATCH_ENABLED: 'false' }))),
  );
  try {
    const meter = new CpuMeter(
      workers.map((w) => /** @type {number} */ (w.child.pid)),
      meters.redis,
      meters.admin,
      names.databaseName,
    );
    await meter.start();
    const started = Date.now();
    const atStart = await applied();
    await waitAtLeast(applied, BACKLOG);
    const seconds = (Date.now() - started) / 1000;
    const cpu = await meter.stop();
    const { rows } = await meters.admin.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'ordersync'`,
      [names.databaseName],
    );
    return { rate: (BACKLOG - atStart) / seconds, messages: BACKLOG - atStart, cpu, connections: /** @type {number} */ (rows[0].n) };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

/**
 * One dispatch run of PENDING orders by one worker, against the fake supplier API with a limit
 * high enough that CPU, not the limit, sets the pace.
 *
 * @param {import('./lib.mjs').Names} names
 * @param {{ admin: pg.Client, redis: number, db: pg.Pool }} meters
 */
async function dispatchCost(names, meters) {
  const supplier = await spawnFakeSupplierApi({ latencyMs: 5, latencyJitterMs: 2, rateLimit: 100_000 });
  const env = serviceEnv(names, { EXTERNAL_API_URL: supplier.url, EXTERNAL_API_RATE_LIMIT: '5000', DISPATCH_CRON: '0 0 1 1 *' });
  await meters.db.query(
    `INSERT INTO orders (id, status, payload) SELECT 'scale-' || g, 'PENDING', jsonb_build_object('n', g) FROM generate_series(1, $1::int) g`,
    [DISPATCH_ORDERS],
  );
  const api = await startService({ ...env, ROLE: 'api', PORT: String(FIRST_PORT) });
  const worker = await startService({ ...env, ROLE: 'worker' });
  try {
    const meter = new CpuMeter([/** @type {number} */ (worker.child.pid)], meters.redis, meters.admin, names.databaseName);
    await meter.start();
    const started = Date.now();
    const run = await fetch(`http://127.0.0.1:${FIRST_PORT}/dispatch/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    if (!run.ok) throw new Error(`POST /dispatch/run answered ${run.status}: ${await run.text()}`);
    await waitAtLeast(
      async () =>
        /** @type {number} */ (
          (await meters.db.query(`SELECT count(*)::int AS n FROM orders WHERE id LIKE 'scale-%' AND status = 'COMPLETED'`)).rows[0].n
        ),
      DISPATCH_ORDERS,
    );
    const seconds = (Date.now() - started) / 1000;
    return { rate: DISPATCH_ORDERS / seconds, cpu: await meter.stop() };
  } finally {
    await worker.stop();
    await api.stop();
    await supplier.stop();
  }
}

/** @param {number} seconds @param {number} units */
const usPer = (seconds, units) => (seconds * 1e6) / units;

export async function benchScaling() {
  const names = isolated('scaling');
  await (await startService(serviceEnv(names, { ROLE: 'worker', DISPATCH_ENABLED: 'false' }))).stop();
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  const db = new pg.Pool({ connectionString: names.databaseUrl, max: 1 });
  const meters = { admin, db, redis: await redisPid() };
  try {
    /** @type {import('./lib.mjs').Row[]} */
    const rows = [];
    /** @type {Map<number, Awaited<ReturnType<typeof ingestWith>>>} */
    const ingest = new Map();
    for (const n of PROCESS_COUNTS) ingest.set(n, await ingestWith(names, n, meters));
    // The pushes of the ingest runs are queued, not applied: drop them, or the first drain would apply them too.
    await dropQueuedMessages(names);
    /** @type {Map<number, Awaited<ReturnType<typeof drainWith>>>} */
    const drain = new Map();
    let first = 1_000_000_000;
    for (const n of PROCESS_COUNTS) {
      drain.set(n, await drainWith(names, n, first, meters));
      first += BACKLOG * 2;
    }
    const dispatch = await dispatchCost(names, meters);

    const one = PROCESS_COUNTS[0] ?? 1;
    const ingestOne = /** @type {Awaited<ReturnType<typeof ingestWith>>} */ (ingest.get(one));
    const drainOne = /** @type {Awaited<ReturnType<typeof drainWith>>} */ (drain.get(one));
    for (const [n, r] of ingest) {
      rows.push({
        measure: `ingest, ${n} API process${n > 1 ? 'es' : ''}: pushes acknowledged/s`,
        value: r.rps,
        unit: '/s',
        baseline: ingestOne.rps,
        baselineUnit: `/s (${one} process)`,
        ratio: r.rps / ingestOne.rps,
      });
    }
    for (const [n, r] of drain) {
      rows.push({
        measure: `drain, ${n} worker process${n > 1 ? 'es' : ''}: messages applied/s (Postgres connections at the end)`,
        value: r.rate,
        unit: `/s (${r.connections})`,
        baseline: drainOne.rate,
        baselineUnit: `/s (${one} process)`,
        ratio: r.rate / drainOne.rate,
      });
    }
    const ingestCost = ingestOne.cpu;
    const drainCost = drainOne.cpu;
    rows.push(
      { measure: 'CPU per push acknowledged: API process', value: usPer(ingestCost.service, ingestOne.ok), unit: 'µs' },
      { measure: 'CPU per push acknowledged: Redis', value: usPer(ingestCost.redis, ingestOne.ok), unit: 'µs' },
      { measure: 'CPU per message applied: worker process', value: usPer(drainCost.service, drainOne.messages), unit: 'µs' },
      { measure: 'CPU per message applied: Redis', value: usPer(drainCost.redis, drainOne.messages), unit: 'µs' },
      { measure: 'CPU per message applied: Postgres backends', value: usPer(drainCost.postgres, drainOne.messages), unit: 'µs' },
      { measure: 'CPU per order dispatched: worker process', value: usPer(dispatch.cpu.service, DISPATCH_ORDERS), unit: 'µs' },
      { measure: 'CPU per order dispatched: Redis', value: usPer(dispatch.cpu.redis, DISPATCH_ORDERS), unit: 'µs' },
      { measure: 'CPU per order dispatched: Postgres backends', value: usPer(dispatch.cpu.postgres, DISPATCH_ORDERS), unit: 'µs' },
      {
        measure: `dispatch rate of 1 worker, supplier at 5 ms and no limit in reach (${DISPATCH_ORDERS.toLocaleString('en-US')} orders)`,
        value: dispatch.rate,
        unit: '/s',
      },
      {
        measure: 'non-2xx answers in the ingest runs',
        value: [...ingest.values()].reduce((sum, r) => sum + r.non2xx, 0),
        unit: '',
        target: '0',
      },
    );
    return printTable(
      `Scaling on this machine (${os.cpus().length} cores, shared by the load generator, the service, Postgres and Redis): ingest ${INGEST_SECONDS} s per run with ${CONNECTIONS} connections over the APIs; drain of ${BACKLOG.toLocaleString('en-US')} queued messages (${MESSAGES_PER_JOB} per job); baseline: ${one} process in the same run`,
      rows,
    );
  } finally {
    await db.end();
    await admin.end();
    await cleanup(names);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchScaling();
}
