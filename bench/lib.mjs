// @ts-check
// Shared helpers for the benchmarks: isolated database and queue prefix, child processes of
// the built service (through the harnesses' launcher, tools/lib/harness-service.mjs, with the
// harnesses' credentials, tools/lib/harness-secrets.mjs), and the result table.
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
// @ts-expect-error -- autocannon ships no types
import autocannon from 'autocannon';
import pg from 'pg';
import { Redis } from 'ioredis';
import { HARNESS_SECRETS, harnessSecretEnv } from '../tools/lib/harness-secrets.mjs';
import { launchService } from '../tools/lib/harness-service.mjs';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const ADMIN_DATABASE_URL = process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const APP_SECRET = HARNESS_SECRETS.appSecret;
/** A client key: /orders. */
export const API_KEY = HARNESS_SECRETS.apiKey;
/** An operator key: POST /dispatch/run. */
export const ADMIN_KEY = HARNESS_SECRETS.adminKey;

/**
 * @typedef {{ databaseName: string, databaseUrl: string, queuePrefix: string }} Names
 */

/**
 * @param {string} label
 * @returns {Names}
 */
export function isolated(label) {
  const suffix = `${label}_${Date.now().toString(36)}_${randomBytes(2).toString('hex')}`;
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/ordersync_bench_${suffix}`;
  return { databaseName: `ordersync_bench_${suffix}`, databaseUrl: url.toString(), queuePrefix: `osbench-${suffix}` };
}

/**
 * @param {Names} names
 * @param {Record<string, string>} [extra]
 * @returns {Record<string, string | undefined>}
 */
export function serviceEnv(names, extra = {}) {
  return {
    ...process.env,
    NODE_ENV: 'production',
    DATABASE_URL: names.databaseUrl,
    REDIS_URL,
    QUEUE_PREFIX: names.queuePrefix,
    ...harnessSecretEnv(),
    LOG_LEVEL: 'info',
    ...extra,
  };
}

/**
 * Starts `node dist/main.js` and resolves once it says it started.
 *
 * @param {Record<string, string | undefined>} env
 * @param {{ nodeArgs?: string[] }} [options] e.g. `['--cpu-prof']`
 */
export async function startService(env, options = {}) {
  const service = await launchService({
    label: 'ordersync',
    env,
    startTimeoutMs: 60_000,
    outputLimit: 100_000,
    nodeArgs: options.nodeArgs,
  });
  return {
    child: service.child,
    port: service.port,
    output: service.output,
    async stop() {
      await service.stop(30_000);
    },
  };
}

/** @param {Names} names */
export async function cleanup(names) {
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(names.databaseName)} WITH (FORCE)`);
  await admin.end();
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${names.queuePrefix}:*`, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  redis.disconnect();
}

/**
 * @param {string} message
 * @param {string} [secret]
 */
export function sign1688(message, secret = APP_SECRET) {
  return createHmac('sha1', secret).update(`message${message}`).digest('hex').toUpperCase();
}

let nextOrder = 167539019420000000n;
/**
 * @param {number | string} msgId
 * @param {{ orderId?: string, status?: string, gmtBorn?: number }} [options]
 */
export function pushBody(msgId, { orderId = String(++nextOrder), status = 'waitsellersend', gmtBorn = Date.now() } = {}) {
  const message = `{"msgId":${msgId},"type":"ORDER_BUYER_VIEW_ORDER_PAY","gmtBorn":${gmtBorn},"userInfo":"b2b-1676547900b7bb3","data":{"orderId":${orderId},"currentStatus":"${status}","buyerMemberId":"b2b-1","sellerMemberId":"b2b-2"}}`;
  return { orderId, body: `message=${encodeURIComponent(message)}&_aop_signature=${sign1688(message)}` };
}

/**
 * @param {number[]} sorted
 * @param {number} p
 * @returns {number}
 */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return /** @type {number} */ (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]);
}

/**
 * @typedef {object} Row
 * @property {string} measure
 * @property {number | string} value
 * @property {string} [unit]
 * @property {number | string} [baseline]
 * @property {string} [baselineUnit]
 * @property {number} [ratio]
 * @property {string} [target]
 */

/**
 * Prints rows of { measure, value, unit, baseline, ratio, target } as a Markdown table.
 *
 * @param {string} title
 * @param {Row[]} rows
 * @returns {string}
 */
export function printTable(title, rows) {
  const lines = [`### ${title}`, '', '| measure | value | baseline (same run) | ratio | target |', '|---|---:|---:|---:|---|'];
  for (const row of rows) {
    const fmt = (/** @type {number | string | undefined} */ v) =>
      typeof v === 'number' ? (Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(2)) : (v ?? '');
    lines.push(
      `| ${row.measure} | ${fmt(row.value)} ${row.unit ?? ''} | ${row.baseline === undefined ? '' : `${fmt(row.baseline)} ${row.baselineUnit ?? row.unit ?? ''}`} | ${row.ratio === undefined ? '' : `${row.ratio.toFixed(2)}×`} | ${row.target ?? ''} |`,
    );
  }
  const text = lines.join('\n');
  console.log(`\n${text}\n`);
  return text;
}

/**
 * The ceiling every push-rate figure is compared with: a bare node:http server that only checks
 * the HMAC of a 1688 push (bench/bare-hmac-server.mjs), in a process of its own.
 *
 * @param {{ port?: number, nodeArgs?: string[] }} [options]
 */
export async function startBare(options = {}) {
  const port = options.port ?? 3991;
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), 'bench/bare-hmac-server.mjs'], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), APP_SECRET },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (!child.stdout) throw new Error('the bare server has no stdout');
  await once(child.stdout, 'data');
  return {
    url: `http://127.0.0.1:${port}/webhooks/1688`,
    pid: child.pid,
    stop: async () => {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/**
 * @param {number} count
 * @param {number} firstId
 */
export function pushBodies(count, firstId) {
  return Array.from({ length: count }, (_, i) => pushBody(firstId + i).body);
}

/**
 * Signed 1688 pushes with autocannon: closed loop (as fast as answers come) or at `rate` per second.
 *
 * @param {string} url
 * @param {{ bodies: string[], connections: number, duration: number, rate?: number }} options
 */
export async function sendPushes(url, options) {
  let i = 0;
  const pool = options.bodies;
  const result = await autocannon({
    url,
    connections: options.connections,
    duration: options.duration,
    overallRate: options.rate,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        setupRequest: (/** @type {Record<string, unknown>} */ request) => ({ ...request, body: pool[i++ % pool.length] }),
      },
    ],
  });
  const non2xx = result.non2xx + result.errors + result.timeouts;
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    total: result.requests.total,
    ok: result['2xx'],
    non2xx,
  };
}

/**
 * The bare HMAC server's pushes per second (closed loop), measured now: the machine's speed
 * changes from hour to hour, so each benchmark that compares with it measures it itself.
 *
 * @param {{ duration?: number, connections?: number }} [options]
 */
export async function measureBareCeiling(options = {}) {
  const duration = options.duration ?? Number(process.env.BENCH_DURATION_S ?? 10);
  const connections = options.connections ?? Number(process.env.BENCH_CONNECTIONS ?? 64);
  const bare = await startBare();
  try {
    return await sendPushes(bare.url, { bodies: pushBodies(Math.min(400_000, duration * 25_000), 1), connections, duration });
  } finally {
    await bare.stop();
  }
}

/** The 1-minute load average, and a warning line when others keep the machine busy. */
export function machineLoad() {
  const [one] = os.loadavg();
  return { one, busy: one > 1.5 };
}
