// Shared helpers for the benchmarks: isolated database and queue prefix, child processes of
// the built service, a bare HMAC server for the ceiling, and the result table.
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Redis } from 'ioredis';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const ADMIN_DATABASE_URL = process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const APP_SECRET = 'bench-secret';
export const API_KEY = 'bench-key';

export function isolated(label) {
  const suffix = `${label}_${Date.now().toString(36)}_${randomBytes(2).toString('hex')}`;
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/ordersync_bench_${suffix}`;
  return { databaseName: `ordersync_bench_${suffix}`, databaseUrl: url.toString(), queuePrefix: `osbench-${suffix}` };
}

export function serviceEnv(names, extra = {}) {
  return {
    ...process.env,
    NODE_ENV: 'production',
    DATABASE_URL: names.databaseUrl,
    REDIS_URL,
    QUEUE_PREFIX: names.queuePrefix,
    ALIBABA_APP_KEY: 'bench',
    ALIBABA_APP_SECRET: APP_SECRET,
    WEBHOOK_SECRET: 'bench-webhook',
    API_KEYS: API_KEY,
    LOG_LEVEL: 'info',
    ...extra,
  };
}

/** Starts `node dist/main.js` and resolves once it says it started. */
export async function startService(env) {
  const child = spawn(process.execPath, ['dist/main.js'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const started = new Promise((resolve, reject) => {
    const onData = (chunk) => {
      output += chunk;
      if (output.length > 100_000) output = output.slice(-50_000);
      if (output.includes('ordersync started')) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`service exited with ${code} before starting:\n${output.slice(-3000)}`)));
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), 60_000);
  await started.finally(() => clearTimeout(timeout));
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await once(child, 'exit');
      clearTimeout(timer);
    },
  };
}

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

export function sign1688(message, secret = APP_SECRET) {
  return createHmac('sha1', secret).update(`message${message}`).digest('hex').toUpperCase();
}

let nextOrder = 167539019420000000n;
export function pushBody(msgId, { orderId = String(++nextOrder), status = 'waitsellersend', gmtBorn = Date.now() } = {}) {
  const message = `{"msgId":${msgId},"type":"ORDER_BUYER_VIEW_ORDER_PAY","gmtBorn":${gmtBorn},"userInfo":"b2b-1676547900b7bb3","data":{"orderId":${orderId},"currentStatus":"${status}","buyerMemberId":"b2b-1","sellerMemberId":"b2b-2"}}`;
  return { orderId, body: `message=${encodeURIComponent(message)}&_aop_signature=${sign1688(message)}` };
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Prints rows of { measure, value, unit, baseline, ratio, target } as a Markdown table. */
export function printTable(title, rows) {
  const lines = [`### ${title}`, '', '| measure | value | baseline (same run) | ratio | target |', '|---|---:|---:|---:|---|'];
  for (const row of rows) {
    const fmt = (v) => (typeof v === 'number' ? (Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(2)) : v ?? '');
    lines.push(`| ${row.measure} | ${fmt(row.value)} ${row.unit ?? ''} | ${row.baseline === undefined ? '' : `${fmt(row.baseline)} ${row.baselineUnit ?? row.unit ?? ''}`} | ${row.ratio === undefined ? '' : `${row.ratio.toFixed(2)}×`} | ${row.target ?? ''} |`);
  }
  const text = lines.join('\n');
  console.log(`\n${text}\n`);
  return text;
}
