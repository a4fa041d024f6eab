#!/usr/bin/env node
// @ts-check
// The whole loop, live, in about a minute: orders created over REST, dispatched once each to a
// (fake) supplier API that is slow, rate-limited and loses answers, then 1688 status pushes for
// the supplier orders that came back (duplicated, reordered, some cancelled), applied to
// Postgres; then statuses change at (a fake) 1688 with no push at all, and the sweep
// (POST /reconciliation/run) finds and repairs them. It ends with a table of checks and exits 0
// only when every one passes.
//
//   npm run build && node scripts/demo.mjs [--orders 300] [--keep] [--port P] [--deadline 170]
//
// Needs Postgres (127.0.0.1:5432, user postgres, trust) and Redis (127.0.0.1:6379); override with
// DEMO_DATABASE_ADMIN_URL / DEMO_REDIS_URL. Uses its own database (ordersync_demo_<random>) and
// queue prefix (osdemo-<random>), removed at the end (also on failure and Ctrl-C) unless --keep.
// Child processes: the fake supplier API (tools/fake-supplier-api.mjs), the fake 1688 Open API
// (tools/fake-1688-open-api.mjs, which ALIBABA_API_URL points at), one ROLE=api and two
// ROLE=worker processes of dist/main.js. All of them are stopped at the end; they also kill
// themselves if this script dies without stopping them (scripts/lib/exit-with-parent.mjs).

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Redis } from 'ioredis';
import { spawnFake1688OpenApi } from '../tools/fake-1688-open-api.mjs';
import { spawnFakeSupplierApi } from '../tools/fake-supplier-api.mjs';
import { HARNESS_SECRETS, alibabaSyncEnv, fake1688Credentials, harnessSecretEnv } from '../tools/lib/harness-secrets.mjs';
import { launchService } from '../tools/lib/harness-service.mjs';
import { changeOrderStatuses, runSimulator, silentChangesFor } from '../tools/simulator-1688.mjs';

/**
 * @typedef {import('../tools/fake-supplier-api.mjs').SpawnedFakeSupplierApi} SpawnedFakeSupplierApi
 * @typedef {import('../tools/fake-supplier-api.mjs').FakeSupplierStats} FakeSupplierStats
 * @typedef {Awaited<ReturnType<typeof spawnFake1688OpenApi>>} SpawnedFake1688
 * @typedef {import('../tools/lib/fake-1688-core.mjs').Fake1688Stats} Fake1688Stats
 * @typedef {import('../tools/lib/harness-service.mjs').ServiceHandle} ServiceHandle
 * @typedef {import('../tools/lib/harness-service.mjs').ServiceExit} ServiceExit
 * @typedef {import('../tools/simulator-1688.mjs').SimulatorProgress} SimulatorProgress
 * @typedef {import('../tools/simulator-1688.mjs').SimulatorReport} SimulatorReport
 */

const WATCHDOG = new URL('./lib/exit-with-parent.mjs', import.meta.url).href;
const ADMIN_DATABASE_URL = process.env.DEMO_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.DEMO_REDIS_URL ?? 'redis://127.0.0.1:6379';

const RATE_LIMIT = 200; // calls/s: the fake's limit and EXTERNAL_API_RATE_LIMIT
const FAKE_OPTIONS = { latencyMs: 30, latencyJitterMs: 10, rateLimit: RATE_LIMIT, error5xx: 0.03, closeConnection: 0.02, seed: 1688 };
const SIMULATOR_OPTIONS = { duplicateRate: 0.1, reorderRate: 0.1, cancelRate: 0.1, rate: 300, seed: 1688 };
/** Calls/s to the 1688 Open API: ALIBABA_API_RATE_LIMIT (its default) and the fake's own limit. */
const ALIBABA_RATE_LIMIT = 10;
/** The fake 1688 Open API: the harness credentials, 1688's rate limit, a little latency. */
const FAKE_1688_OPTIONS = { ...fake1688Credentials(), rateLimit: ALIBABA_RATE_LIMIT, latencyMs: 5, latencyJitterMs: 3, seed: 1688 };
/** Share of the orders whose status changes at 1688 with no push once the pushes are applied (at least one). */
const DRIFT_SHARE = 0.05;
/** How long the sweep may take to repair the drift, from POST /reconciliation/run. */
const REPAIR_TIMEOUT_MS = 60_000;
// The harnesses' credentials (tools/lib/harness-secrets.mjs): production accepts them (16+ characters, no placeholder).
const SECRETS = harnessSecretEnv();
/** A client key: /orders, reading queues and dead letters. */
const API_KEY = HARNESS_SECRETS.apiKey;
/** An operator key (ADMIN_API_KEYS): POST /dispatch/run, dead-letter retries, /admin/queues. */
const ADMIN_KEY = HARNESS_SECRETS.adminKey;
const WORKERS = 2;
const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;
const CLEANUP_LIMIT_MS = 30_000;
const SETTLE_AFTER_DRAIN_MS = 15_000; // how long statuses may still differ once order-events is empty
const LOG_TAIL_LINES = 50;
const ORDER_STATUSES = ['PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'EXTERNAL'];
const SUPPLIER_STATUSES = ['waitbuyerpay', 'waitsellersend', 'waitbuyerreceive', 'confirm_goods', 'success', 'cancel'];

const USAGE = `Usage: node scripts/demo.mjs [options]        (npm run demo builds first)

Runs the fake supplier API, the fake 1688 Open API, ordersync (1 api + ${WORKERS} workers from
dist/main.js) and the 1688 push simulator against a fresh database and queue prefix, changes some
statuses at 1688 without a push for the sweep to repair, shows live progress, then checks the result.

  --orders N      orders to create and dispatch (default 300, 1..10000)
  --keep          keep the database and Redis keys, and print how to look at them
  --port P        port of the ordersync API (default: a free one)
  --deadline S    give up after S seconds (default 170, more above 3,000 orders); cleanup then
                  takes at most ${(CLEANUP_LIMIT_MS + STOP_GRACE_MS) / 1000} s more
  -h, --help      this text

Needs Postgres and Redis: DEMO_DATABASE_ADMIN_URL (${ADMIN_DATABASE_URL})
and DEMO_REDIS_URL (${REDIS_URL}). DEMO_SHOW_LOGS=1 prints the last ${LOG_TAIL_LINES} log lines of each
ordersync process even when every check passes. Exit code 0 when every check passes, 1 otherwise.`;

// ---------------------------------------------------------------------------------------------
// Command line

/**
 * @param {string[]} argv
 * @returns {{ help: boolean; keep: boolean; orders: number; port: number; deadlineSec: number }}
 */
function parseCli(argv) {
  /** @type {{ orders?: string; keep?: boolean; port?: string; deadline?: string; help?: boolean }} */
  let values = {};
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        orders: { type: 'string' },
        keep: { type: 'boolean', default: false },
        port: { type: 'string' },
        deadline: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    usageError(/** @type {Error} */ (error).message);
  }
  /**
   * @param {string} name
   * @param {string | undefined} raw
   * @param {number} fallback
   * @param {number} min
   * @param {number} max
   */
  const int = (name, raw, fallback, min, max) => {
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max)
      usageError(`--${name} must be an integer from ${min} to ${max}, got "${raw}"`);
    return Number(raw);
  };
  const orders = int('orders', values.orders, 300, 1, 10_000);
  return {
    help: values.help ?? false,
    keep: values.keep ?? false,
    orders,
    port: int('port', values.port, 0, 1, 65_535),
    // Default: 170 s, more for big runs (dispatch at 200/s, about 5 pushes per order at 300/s).
    deadlineSec: int('deadline', values.deadline, Math.max(170, 60 + Math.ceil(orders * 0.035)), 10, 3_600),
  };
}

/**
 * @param {string} message
 * @returns {never}
 */
function usageError(message) {
  process.stderr.write(`demo: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// Output: phase lines, one live progress line (rewritten in place on a TTY), the summary table

const tty = Boolean(process.stdout.isTTY);
const color = tty && !process.env.NO_COLOR;
/**
 * @param {string} code
 * @param {string} text
 */
const paint = (code, text) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
const green = (/** @type {string} */ text) => paint('32', text);
const red = (/** @type {string} */ text) => paint('31', text);
const dim = (/** @type {string} */ text) => paint('2', text);
const bold = (/** @type {string} */ text) => paint('1', text);
let statusLine = '';

/** @param {string} line */
function fit(line) {
  const width = Math.max(40, (process.stdout.columns || 160) - 1);
  return line.length > width ? `${line.slice(0, width - 1)}…` : line;
}

function say(text = '') {
  if (tty && statusLine) process.stdout.write('\r\x1b[K');
  process.stdout.write(`${text}\n`);
  if (tty && statusLine) process.stdout.write(fit(statusLine));
}

/** @param {string} line */
function showStatus(line) {
  statusLine = line;
  if (tty) process.stdout.write(`\r\x1b[K${fit(line)}`);
  else process.stdout.write(`${line}\n`);
}

function endStatus() {
  if (tty && statusLine) process.stdout.write('\n');
  statusLine = '';
}

const fmt = (/** @type {unknown} */ n) => (typeof n === 'number' && Number.isFinite(n) ? n.toLocaleString('en-US') : String(n));
const secs = (/** @type {number} */ ms) => `${(ms / 1000).toFixed(1)} s`;

// ---------------------------------------------------------------------------------------------
// Run state and cancellation (deadline, Ctrl-C, a child dying)

const cli = parseCli(process.argv.slice(2));
if (cli.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const suffix = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const names = (() => {
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/ordersync_demo_${suffix}`;
  return { databaseName: `ordersync_demo_${suffix}`, databaseUrl: url.toString(), queuePrefix: `osdemo-${suffix}` };
})();

const controller = new AbortController();
const { signal } = controller;
/** @type {Promise<never>} */
const aborted = new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
aborted.catch(() => {});

class DemoStop extends Error {}
const stopRun = (/** @type {string} */ message) => {
  if (!signal.aborted) controller.abort(new DemoStop(message));
};

/**
 * Resolves like `promise`, or rejects as soon as the run is stopped.
 * @template T
 * @param {Promise<T>} promise
 * @returns {Promise<T>}
 */
const guard = (promise) => Promise.race([promise, aborted]);

/** @param {number} ms */
function sleep(ms) {
  return guard(new Promise((resolve) => setTimeout(resolve, ms)));
}

const t0 = performance.now();
const elapsed = () => performance.now() - t0;

/**
 * One ordersync child.
 * @typedef {{
 *   label: string; child: import('node:child_process').ChildProcess | null; handle: ServiceHandle | null;
 *   pid: number | undefined; tail: string[]; warnings: number; errors: number; exit: ServiceExit | null;
 *   stopping: boolean; started: Record<string, unknown> | null; exited: Promise<ServiceExit>;
 *   ready: Promise<Record<string, unknown> & { port: number | null }>;
 * }} DemoProc
 * @typedef {{ total: number; matched: number; mismatches: Array<{ supplierOrderId: string; expected: string; found: string }>; external: number }} StatusCompare
 * @typedef {{ counts: Awaited<ReturnType<typeof dbCounts>> | null; depths: Awaited<ReturnType<typeof queueDepths>> | null; fake: FakeSupplierStats | null }} Snapshot
 * @typedef {{ id: string; kind: string; trigger: string; startedAt: string; finishedAt: string | null; outcome: string | null; windowFrom: string; windowTo: string; counts: Record<string, number> | null; error: string | null }} SyncRun
 * @typedef {{ last: SyncRun | null; lastFailed: SyncRun | null; watermark: string | null; schedule: string }} SyncKindView
 * @typedef {{ enabled: boolean; pull: SyncKindView; sweep: SyncKindView; newestPushReceivedAt: string | null; newestPushAgeMs: number | null }} ReconciliationView
 * @typedef {{ supplierStatus: string | null; source: string | null; topic: string | null; kind: string; outcome: string; toStatus: string | null; occurredAt: string | null }} HistoryItem
 * @typedef {{
 *   changes: Array<{ orderId: string; status: string; modifyTime: number }>; from: Record<string, number>;
 *   runAnswer: { status: number; body: unknown }; before: ReconciliationView; after: ReconciliationView | null;
 *   sweep: SyncRun | null; compare: StatusCompare | null; repairMs: number | null;
 *   example: { orderId: string; supplierOrderId: string; items: HistoryItem[] } | null;
 * }} DriftResult
 */

const state = {
  phase: 'starting',
  /** @type {SpawnedFakeSupplierApi | null} */
  fake: null,
  /** @type {Promise<SpawnedFakeSupplierApi> | null} */
  fakePromise: null,
  fakeStopping: false,
  /** @type {SpawnedFake1688 | null} the fake 1688 Open API */
  fake1688: null,
  /** @type {Promise<SpawnedFake1688> | null} */
  fake1688Promise: null,
  fake1688Stopping: false,
  /** @type {DemoProc[]} ordersync children */
  services: [],
  /** @type {{ baseUrl: string; port: number } | null} */
  api: null,
  /** @type {pg.Client | null} on the demo database */
  db: null,
  /** @type {number | null} */
  createdCount: null,
  /** @type {string[]} */
  orderIds: [],
  /** @type {{ startMs?: number; dispatchMs?: number; simMs?: number; settleMs?: number; repairMs?: number }} */
  timings: {},
  /** @type {SimulatorProgress | null} */
  simProgress: null,
  /** @type {SimulatorReport | null} */
  simReport: null,
  /** @type {{ pages: number; items: Array<{ id: string; supplierOrderId: string | null }> } | null} GET /orders walk */
  pages: null,
  /** @type {StatusCompare | null} */
  statusCompare: null,
  /** @type {DriftResult | null} the statuses changed at 1688 without a push, and the sweep that repaired them */
  drift: null,
  /** @type {Facts | null} */
  facts: null,
  /** @type {Snapshot | null} */
  lastSnapshot: null,
  /** @type {Record<string, number> | null} statuses of the operator routes with a client and an admin key */
  operator: null,
};

// ---------------------------------------------------------------------------------------------
// Child processes

/**
 * Starts one ordersync process through the harnesses' launcher (tools/lib/harness-service.mjs),
 * with the watchdog preloaded; `proc.ready` settles once it logged "ordersync started".
 * @param {string} label
 * @param {Record<string, string | undefined>} env
 * @returns {DemoProc}
 */
function startOrdersync(label, env) {
  /** @type {(exit: ServiceExit) => void} */
  let resolveExited = () => {};
  /** @type {DemoProc} */
  const proc = {
    label,
    child: null,
    handle: null,
    pid: undefined,
    tail: [],
    warnings: 0,
    errors: 0,
    exit: null,
    stopping: false,
    started: null,
    exited: new Promise((resolve) => {
      resolveExited = resolve;
    }),
    ready: aborted,
  };
  state.services.push(proc);
  /** @param {ServiceExit} exit */
  const done = (exit) => {
    if (proc.exit) return;
    proc.exit = exit;
    resolveExited(exit);
    if (!proc.stopping) stopRun(`ordersync ${label} (pid ${proc.pid}) exited unexpectedly (${exit.code ?? exit.signal ?? exit.error})`);
  };
  const onLine = (/** @type {string} */ line) => {
    proc.tail.push(line.length > 2_000 ? `${line.slice(0, 2_000)}…` : line);
    if (proc.tail.length > LOG_TAIL_LINES) proc.tail.shift();
    if (line.includes('"level":"warn"')) proc.warnings++;
    else if (line.includes('"level":"error"') || line.includes('"level":"fatal"')) proc.errors++;
  };
  const launching = launchService({
    label: `ordersync ${label}`,
    env: { ...env, DEMO_PARENT_PID: String(process.pid) },
    nodeArgs: ['--import', WATCHDOG],
    detached: true, // its own process group: Ctrl-C reaches the demo, which stops children in order
    startTimeoutMs: START_TIMEOUT_MS,
    outputLimit: 64_000,
    onSpawn: (child) => {
      proc.child = child;
      proc.pid = child.pid;
      child.once('exit', (code, sig) => done({ code, signal: sig }));
      child.once('error', (/** @type {Error} */ error) => done({ code: null, signal: null, error: error.message }));
    },
    onLine,
  });
  proc.ready = guard(
    launching.then((handle) => {
      proc.handle = handle;
      proc.started = handle.started;
      return { ...handle.started, port: handle.port };
    }),
  );
  proc.ready.catch(() => {});
  return proc;
}

/**
 * @param {DemoProc} proc
 * @returns {proc is DemoProc & { pid: number }}
 */
function alive(proc) {
  return proc.exit === null && proc.pid !== undefined;
}

/**
 * @param {number | undefined} pid
 * @param {NodeJS.Signals} sig
 */
function killPid(pid, sig) {
  if (pid === undefined) return;
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** @param {DemoProc} proc */
async function stopOrdersync(proc) {
  proc.stopping = true;
  if (!alive(proc)) return;
  if (proc.handle) {
    // SIGTERM, then SIGKILL after the grace.
    await proc.handle.stop(STOP_GRACE_MS);
    return;
  }
  killPid(proc.pid, 'SIGKILL');
  await Promise.race([proc.exited, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
}

/** Last resort, synchronous: nothing this script started outlives it. */
function killEverythingNow() {
  for (const proc of state.services) if (alive(proc)) killPid(proc.pid, 'SIGKILL');
  for (const fakeChild of [state.fake?.child, state.fake1688?.child])
    if (fakeChild && fakeChild.exitCode === null && fakeChild.signalCode === null) killPid(fakeChild.pid, 'SIGKILL');
}
process.on('exit', killEverythingNow);

/** The ordersync variables in .env.example: never inherited from this shell, so its env cannot skew the demo. */
function ordersyncVariableNames() {
  try {
    return readFileSync(new URL('../.env.example', import.meta.url), 'utf8')
      .split('\n')
      .map((line) => /^([A-Z][A-Z0-9_]*)=/.exec(line.trim())?.[1])
      .filter((name) => name !== undefined);
  } catch {
    return [];
  }
}

/**
 * @param {string} role
 * @param {Record<string, string>} [extra]
 * @returns {Record<string, string | undefined>}
 */
function serviceEnv(role, extra = {}) {
  if (!state.fake || !state.fake1688) throw new Error('the fakes are not running');
  const env = { ...process.env };
  for (const name of ordersyncVariableNames()) delete env[name];
  return {
    ...env,
    NODE_ENV: 'production',
    ROLE: role,
    DATABASE_URL: names.databaseUrl,
    REDIS_URL,
    QUEUE_PREFIX: names.queuePrefix,
    ...SECRETS,
    EXTERNAL_API_URL: state.fake.url,
    EXTERNAL_API_RATE_LIMIT: String(RATE_LIMIT),
    // Pull and sweep against the fake 1688 Open API (never the real one: alibabaSyncEnv refuses any
    // other host), on their default schedules; the demo also runs them with POST /reconciliation/run.
    ...alibabaSyncEnv(state.fake1688.url),
    ALIBABA_API_RATE_LIMIT: String(ALIBABA_RATE_LIMIT),
    EXTERNAL_API_TIMEOUT_MS: '2000',
    DISPATCH_LOCK_MS: '5000',
    SHUTDOWN_GRACE_MS: String(STOP_GRACE_MS - 2_000),
    LOG_LEVEL: 'info',
    ...extra,
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP, Postgres and queue reads

/** The API's base URL (once it is up). */
function apiBase() {
  if (!state.api) throw new Error('the api is not up');
  return state.api.baseUrl;
}

/** @returns {pg.Client} the connection to the demo database */
function database() {
  if (!state.db) throw new Error('no database connection');
  return state.db;
}

/**
 * A call to the API with a client key (or `key`); throws unless 2xx. Answers the parsed body.
 * @param {string} method
 * @param {string} path
 * @param {{ body?: unknown; auth?: boolean; key?: string; timeoutMs?: number; abortSignal?: AbortSignal }} [options]
 * @returns {Promise<any>}
 */
async function api(method, path, { body, auth = true, key = API_KEY, timeoutMs = 10_000, abortSignal = signal } = {}) {
  /** @type {Record<string, string>} */
  const headers = {};
  if (auth) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${apiBase()}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.any([abortSignal, AbortSignal.timeout(timeoutMs)]),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

/**
 * The status of a call with a given key (null: none), whatever it is; for the operator-route checks.
 * @param {string} method
 * @param {string} path
 * @param {string | null} key
 */
async function statusOf(method, path, key) {
  /** @type {Record<string, string>} */
  const headers = key ? { authorization: `Bearer ${key}` } : {};
  const response = await fetch(`${apiBase()}${path}`, {
    method,
    headers,
    redirect: 'manual',
    signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]),
  });
  await response.arrayBuffer();
  return response.status;
}

/**
 * @typedef {{ name: string; waiting: number; active: number; delayed: number; failed: number; deadLettered: number }} QueueDepth
 */

/** @param {{ abortSignal?: AbortSignal }} [options] */
async function queueDepths(options = {}) {
  /** @type {{ queues: QueueDepth[] }} */
  const { queues } = await api('GET', '/queues', { auth: false, timeoutMs: 3_000, ...options });
  const work = queues.filter((q) => !q.name.endsWith('-dead'));
  const byName = Object.fromEntries(queues.map((q) => [q.name, q]));
  // dispatch-schedule always holds its repeatable jobs (delayed): they are schedules, not backlog.
  const backlog = work.filter((q) => q.name !== 'dispatch-schedule').reduce((sum, q) => sum + q.waiting + q.active + q.delayed, 0);
  const deadLettered = work.reduce((sum, q) => sum + q.deadLettered, 0);
  return { queues, work, byName, backlog, deadLettered };
}

const orderEventsBacklog = (/** @type {Awaited<ReturnType<typeof queueDepths>>} */ depths) => {
  const q = depths.byName['order-events'];
  return q ? q.waiting + q.active + q.delayed : NaN;
};

async function dbCounts() {
  const { rows } = await database().query(
    `SELECT 'status' AS kind, status AS value, count(*)::int AS n FROM orders GROUP BY status
     UNION ALL
     SELECT 'supplier', supplier_status, count(*)::int FROM orders WHERE supplier_status IS NOT NULL GROUP BY supplier_status`,
  );
  /** @type {Record<string, number>} */
  const status = {};
  /** @type {Record<string, number>} */
  const supplier = {};
  for (const row of rows) (row.kind === 'status' ? status : supplier)[row.value] = row.n;
  return { status, supplier };
}

/**
 * @param {Record<string, number>} counts
 * @param {string[]} known
 */
const ordered = (counts, known) => [
  ...known.filter((k) => counts[k]),
  ...Object.keys(counts)
    .filter((k) => !known.includes(k))
    .sort(),
];

/** @returns {Promise<Snapshot>} */
async function snapshot() {
  const fake = state.fake;
  const [counts, depths, fakeStats] = await Promise.allSettled([
    dbCounts(),
    queueDepths(),
    fake ? fake.stats() : Promise.reject(new Error('no fake')),
  ]);
  return {
    counts: counts.status === 'fulfilled' ? counts.value : null,
    depths: depths.status === 'fulfilled' ? depths.value : null,
    fake: fakeStats.status === 'fulfilled' ? fakeStats.value : null,
  };
}

/** @param {Snapshot} snap */
function progressLine(snap) {
  const parts = [`${(elapsed() / 1000).toFixed(0).padStart(3)}s ${state.phase.padEnd(9)}`];
  if (snap.counts) {
    const s = snap.counts.status;
    const orderParts = ORDER_STATUSES.filter((k) => s[k] || k === 'COMPLETED').map((k) => `${fmt(s[k] ?? 0)} ${k.toLowerCase()}`);
    parts.push(`orders ${orderParts.join(' · ')}`);
    const sup = snap.counts.supplier;
    const supKeys = ordered(sup, SUPPLIER_STATUSES);
    if (supKeys.length) parts.push(`1688 ${supKeys.map((k) => `${fmt(sup[k])} ${k}`).join(' · ')}`);
  } else parts.push('orders ?');
  parts.push(snap.depths ? `backlog ${fmt(snap.depths.backlog)}` : 'backlog ?');
  parts.push(snap.depths ? `dead letters ${fmt(snap.depths.deadLettered)}` : 'dead letters ?');
  if (snap.fake) parts.push(`supplier API ${fmt(snap.fake.calls)} calls`);
  if (state.simReport) parts.push(`pushes ${fmt(state.simReport.acknowledged)}/${fmt(state.simReport.sent)} acked`);
  else if (state.simProgress) parts.push(`pushes ${fmt(state.simProgress.acknowledged)}/${fmt(state.simProgress.total)} acked`);
  return parts.join(' │ ');
}

/** @type {NodeJS.Timeout | null} */
let ticker = null;
function startTicker() {
  let busy = false;
  const tick = async () => {
    if (busy || signal.aborted) return;
    busy = true;
    try {
      state.lastSnapshot = await snapshot();
      if (!signal.aborted) showStatus(progressLine(state.lastSnapshot));
    } finally {
      busy = false;
    }
  };
  ticker = setInterval(() => void tick().catch(() => {}), 1_000);
  void tick().catch(() => {});
}
function stopTicker() {
  if (ticker) clearInterval(ticker);
  ticker = null;
}

/**
 * Polls `check` (an async () => value | undefined) until it gives a value.
 * @template T
 * @param {() => Promise<T | undefined>} check
 * @param {number} [everyMs]
 * @returns {Promise<T>}
 */
async function waitFor(check, everyMs = 250) {
  for (;;) {
    const value = await guard(check());
    if (value !== undefined) return value;
    await sleep(everyMs);
  }
}

/**
 * @template T, R
 * @param {T[]} items
 * @param {number} limit
 * @param {(item: T, index: number) => Promise<R>} fn
 * @returns {Promise<R[]>}
 */
async function mapLimit(items, limit, fn) {
  /** @type {R[]} */
  const results = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(/** @type {T} */ (items[i]), i);
      }
    }),
  );
  return results;
}

// ---------------------------------------------------------------------------------------------
// The run

async function run() {
  if (!existsSync(new URL('../dist/main.js', import.meta.url))) throw new Error('dist/main.js is missing: run `npm run build` first');
  const n = cli.orders;
  say(
    bold(
      `ordersync demo: ${fmt(n)} orders → 1 api + ${WORKERS} workers → fake supplier API → 1688 pushes back → drift repaired by the sweep`,
    ),
  );
  say(dim(`database ${names.databaseName} · queue prefix ${names.queuePrefix} · deadline ${cli.deadlineSec} s`));

  // 1. The fake supplier API and the fake 1688 Open API, each its own process.
  state.phase = 'start';
  state.fakePromise = spawnFakeSupplierApi({ ...FAKE_OPTIONS, startTimeoutMs: 10_000 });
  state.fake1688Promise = spawnFake1688OpenApi({ ...FAKE_1688_OPTIONS, startTimeoutMs: 10_000 });
  const fake = await guard(state.fakePromise);
  state.fake = fake;
  void fake.exited.then((exit) => {
    if (!state.fakeStopping)
      stopRun(`the fake supplier API exited unexpectedly (${exit.code ?? exit.signal}): ${exit.errors.trim().slice(-300)}`);
  });
  const fake1688 = await guard(state.fake1688Promise);
  state.fake1688 = fake1688;
  void fake1688.exited.then((exit) => {
    if (!state.fake1688Stopping)
      stopRun(`the fake 1688 Open API exited unexpectedly (${exit.code ?? exit.signal}): ${exit.errors.trim().slice(-300)}`);
  });
  say(
    `✓ fake supplier API  ${fake.url} (pid ${fake.pid}): ${FAKE_OPTIONS.latencyMs}±${FAKE_OPTIONS.latencyJitterMs} ms, ` +
      `${RATE_LIMIT} calls/s, ${FAKE_OPTIONS.error5xx * 100}% 503, ${FAKE_OPTIONS.closeConnection * 100}% lost connections, seed ${FAKE_OPTIONS.seed}`,
  );
  say(
    `✓ fake 1688 Open API ${fake1688.url} (pid ${fake1688.pid}): ${ALIBABA_RATE_LIMIT} calls/s (gw.Qos past it), the harness app key and tokens`,
  );

  // 2. ordersync: one API, two workers, started together (they migrate once, under a lock). The
  // demo creates the database itself: processes creating the same database at the same moment can
  // fail with 23505 in Postgres, which ordersync's ensureDatabase does not expect (only 42P04).
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await guard(admin.connect());
  try {
    await guard(admin.query(`CREATE DATABASE ${pg.escapeIdentifier(names.databaseName)}`));
  } finally {
    await admin.end().catch(() => {});
  }
  const apiProc = startOrdersync('api', serviceEnv('api', { PORT: String(cli.port) }));
  const workers = Array.from({ length: WORKERS }, (_, i) =>
    startOrdersync(`worker-${i + 1}`, serviceEnv('worker', { WORKER_HTTP_PORT: '0' })),
  );
  const startedAt = performance.now();
  const [apiStarted] = await Promise.all([apiProc.ready, ...workers.map((w) => w.ready)]);
  const port = Number(apiStarted.port) || cli.port;
  if (!port) throw new Error('the api did not say which port it listens on');
  state.api = { port, baseUrl: `http://127.0.0.1:${port}` };
  const startMs = performance.now() - startedAt;
  state.timings.startMs = startMs;
  say(
    `✓ ordersync          api ${state.api.baseUrl} (pid ${apiProc.pid}), workers pid ${workers.map((w) => w.pid).join(', ')}: started in ${secs(startMs)}`,
  );

  const db = new pg.Client({ connectionString: names.databaseUrl });
  state.db = db;
  db.on('error', () => {});
  await guard(db.connect());
  startTicker();

  // 3. Orders through POST /orders/batch; ordersync claims and dispatches them at once.
  state.phase = 'dispatch';
  const width = String(n).length;
  const orders = Array.from({ length: n }, (_, i) => ({
    id: `demo-${String(i + 1).padStart(width, '0')}`,
    payload: { sku: `SKU-${(i % 37) + 1}`, quantity: (i % 5) + 1, buyer: `buyer-${i % 11}`, note: 'ordersync demo' },
  }));
  const dispatchStart = performance.now();
  let created = 0;
  for (let i = 0; i < orders.length; i += 1_000) {
    /** @type {{ created: number }} */
    const answer = await api('POST', '/orders/batch', { body: { orders: orders.slice(i, i + 1_000) }, timeoutMs: 30_000 });
    created += answer.created;
  }
  state.createdCount = created;
  state.orderIds = orders.map((o) => o.id);
  say(`✓ orders             ${fmt(created)} created via POST /orders/batch in ${secs(performance.now() - dispatchStart)}; dispatching…`);

  // 4. Wait until every order is COMPLETED or FAILED and the dispatch queues are empty.
  await waitFor(async () => {
    const { status } = await dbCounts();
    if ((status.PENDING ?? 0) + (status.PROCESSING ?? 0) > 0) return undefined;
    if ((status.COMPLETED ?? 0) + (status.FAILED ?? 0) < n) return undefined;
    const depths = await queueDepths();
    const q = (/** @type {string} */ name) => depths.byName[name] ?? { waiting: 0, active: 0, delayed: 0 };
    const busy = ['order-dispatch', 'dispatch-results'].some((name) => q(name).waiting + q(name).active + q(name).delayed > 0);
    return busy ? undefined : status;
  });
  const dispatchMs = performance.now() - dispatchStart;
  state.timings.dispatchMs = dispatchMs;
  const afterDispatch = await dbCounts();
  say(
    `✓ dispatch           ${fmt(afterDispatch.status.COMPLETED ?? 0)} COMPLETED, ${fmt(afterDispatch.status.FAILED ?? 0)} FAILED ` +
      `in ${secs(dispatchMs)} (${fmt(Math.round(n / (dispatchMs / 1000)))} orders/s)`,
  );

  // 5. Their supplier order ids, the way a client reads them: GET /orders, following nextCursor.
  /** @type {Array<{ id: string; supplierOrderId: string | null }>} */
  const items = [];
  let pages = 0;
  /** @type {string | null} */
  let cursor = null;
  do {
    const query = new URLSearchParams({ status: 'COMPLETED', limit: '1000' });
    if (cursor) query.set('cursor', cursor);
    /** @type {{ items: Array<{ id: string; supplierOrderId: string | null }>; nextCursor: string | null }} */
    const page = await api('GET', `/orders?${query}`);
    pages++;
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && pages < 1_000);
  state.pages = { pages, items };
  const supplierOrderIds = [...new Set(items.map((o) => o.supplierOrderId ?? '').filter((id) => id !== ''))];
  say(`✓ GET /orders        ${fmt(items.length)} COMPLETED orders in ${pages} page(s), ${fmt(supplierOrderIds.length)} supplier order ids`);
  if (supplierOrderIds.length === 0) throw new Error('no COMPLETED order has a supplierOrderId: nothing to push');

  // 6. 1688 pushes status changes for those supplier orders: duplicates, reordering, cancellations.
  // 1688 knows those orders too: the simulator registers each in the fake 1688 Open API with its
  // final status (1688's state is ahead of its pushes), for the sweep to compare with ours.
  state.phase = '1688 push';
  const simStart = performance.now();
  const sim = await guard(
    runSimulator({
      target: state.api.baseUrl,
      appSecret: SECRETS.ALIBABA_APP_SECRET,
      ids: supplierOrderIds,
      ...SIMULATOR_OPTIONS,
      openApi: fake1688.baseUrl,
      signal,
      onProgress: (progress) => {
        state.simProgress = progress;
      },
    }),
  );
  state.simReport = sim;
  const simMs = performance.now() - simStart;
  state.timings.simMs = simMs;
  say(
    `✓ 1688 pushes        ${fmt(sim.sent)} sent (${fmt(sim.duplicatesSent)} duplicates, ${fmt(sim.reordered)} reordered), ` +
      `${fmt(sim.acknowledged)} acknowledged, in ${secs(sim.elapsedMs)} (${fmt(Math.round(sim.ratePerSec))}/s, ack p99 ${sim.ackLatencyMs.p99.toFixed(0)} ms)`,
  );

  // 7. Wait for the order-events backlog to drain, then compare every order with 1688's last word.
  state.phase = 'settle';
  const expected = sim.lastStatusByOrder;
  /** @type {number | null} */
  let drainedAt = null;
  const c = await waitFor(async () => {
    const depths = await queueDepths();
    if (orderEventsBacklog(depths) > 0) {
      drainedAt = null;
      return undefined;
    }
    drainedAt ??= performance.now();
    const compare = await compareStatuses(expected);
    if (compare.mismatches.length === 0 && compare.external === 0) return compare;
    return performance.now() - drainedAt > SETTLE_AFTER_DRAIN_MS ? compare : undefined;
  });
  state.statusCompare = c;
  const settleMs = performance.now() - simStart - simMs;
  state.timings.settleMs = settleMs;
  say(
    `${c.mismatches.length === 0 ? '✓' : '✗'} settled            order-events empty ${secs(settleMs)} after the last push; ${fmt(c.matched)}/${fmt(c.total)} supplier statuses match`,
  );

  // 8. Drift: statuses change at 1688 with no push at all (a refund after delivery, a seller
  // closing an order). Nothing tells ordersync; the sweep (alibaba.trade.getBuyerOrderList by
  // modification time, RECONCILE_CRON, here run now with POST /reconciliation/run) finds them
  // and applies each as a 1688-reconcile message.
  state.phase = 'drift';
  await driftAndSweep(sim.finalStatusAt1688);

  // 9. Operator routes: a client key may read, only an admin key may act (403 otherwise).
  state.phase = 'operator';
  const operator = {
    dispatchRunClient: await statusOf('POST', '/dispatch/run', API_KEY),
    dispatchRunAdmin: await statusOf('POST', '/dispatch/run', ADMIN_KEY),
    reconciliationRunClient: await statusOf('POST', '/reconciliation/run', API_KEY),
    retryAllClient: await statusOf('POST', '/queues/order-dispatch/dead-letters/retry-all', API_KEY),
    deadLettersClient: await statusOf('GET', '/queues/order-dispatch/dead-letters', API_KEY),
    dashboardClient: await statusOf('GET', '/admin/queues', API_KEY),
    dashboardAdmin: await statusOf('GET', '/admin/queues', ADMIN_KEY),
    backlog: await statusOf('GET', '/health/backlog', null),
    ready: await statusOf('GET', '/health/ready', null),
  };
  state.operator = operator;
  say(
    `✓ operator routes    POST /dispatch/run ${operator.dispatchRunClient} (client key) / ${operator.dispatchRunAdmin} (admin key); POST /reconciliation/run ${operator.reconciliationRunClient} (client key); ` +
      `/admin/queues ${operator.dashboardClient} / ${operator.dashboardAdmin}; dead letters read ${operator.deadLettersClient}, retry-all ${operator.retryAllClient} (client key); ` +
      `/health/ready ${operator.ready}, /health/backlog ${operator.backlog}`,
  );
  state.phase = 'done';
}

/**
 * Step 8: changes DRIFT_SHARE of the orders' statuses at the fake 1688 Open API with no push, runs
 * a pull and a sweep (POST /reconciliation/run), waits for that sweep and for every order to be in
 * step with 1688 again, and shows GET /reconciliation and one repaired order's history.
 * @param {Record<string, string>} finalStatusAt1688 1688's status of each supplier order before the drift
 */
async function driftAndSweep(finalStatusAt1688) {
  const fake1688 = state.fake1688;
  if (!fake1688) throw new Error('the fake 1688 Open API is not running');
  const wanted = Math.max(1, Math.round(Object.keys(finalStatusAt1688).length * DRIFT_SHARE));
  const picked = silentChangesFor(finalStatusAt1688, wanted);
  /** @type {Record<string, number>} */
  const from = {};
  for (const change of picked) from[`${change.from} → ${change.status}`] = (from[`${change.from} → ${change.status}`] ?? 0) + 1;
  /** @type {ReconciliationView} */
  const before = await api('GET', '/reconciliation');
  const changes = await guard(
    changeOrderStatuses(
      fake1688.baseUrl,
      picked.map(({ orderId, status }) => ({ orderId, status })),
    ),
  );
  /** @type {DriftResult} */
  const drift = {
    changes,
    from,
    runAnswer: { status: 0, body: null },
    before,
    after: null,
    sweep: null,
    compare: null,
    repairMs: null,
    example: null,
  };
  state.drift = drift;
  const tally = Object.entries(from)
    .map(([k, v]) => `${fmt(v)} ${k}`)
    .join(', ');
  say(
    `✓ drift at 1688      ${fmt(changes.length)} statuses changed at the fake 1688 Open API with no push (${tally}): ordersync is not told`,
  );

  // A pull and a sweep now (they also run on PUSH_PULL_CRON / RECONCILE_CRON).
  const runAt = Date.now();
  const runStart = performance.now();
  const response = await fetch(`${apiBase()}/reconciliation/run`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}` },
    signal: AbortSignal.any([signal, AbortSignal.timeout(15_000)]),
  });
  const text = await response.text();
  drift.runAnswer = { status: response.status, body: text ? JSON.parse(text) : null };
  if (response.status !== 202) throw new Error(`POST /reconciliation/run answered ${response.status}: ${text.slice(0, 300)}`);
  say(`  POST /reconciliation/run (admin key) → ${response.status} ${text}`);

  // The sweep it queued: the first sweep run started after the call that has finished.
  const sweep = await waitFor(async () => {
    /** @type {ReconciliationView} */
    const view = await api('GET', '/reconciliation');
    const last = view.sweep.last;
    if (!last || !last.finishedAt || Date.parse(last.startedAt) < runAt - 1_000) return undefined;
    drift.after = view;
    return last;
  }, 200);
  drift.sweep = sweep;
  const after = /** @type {ReconciliationView} */ (drift.after);
  say(`  GET /reconciliation → ${reconciliationLine(after)}`);

  // Every order in step with 1688's new state: the repairs went through order-events like pushes.
  /** @type {Record<string, string>} */
  const expected = { ...(state.simReport?.lastStatusByOrder ?? {}) };
  for (const c of changes) expected[c.orderId] = c.status;
  const deadline = performance.now() + REPAIR_TIMEOUT_MS;
  /** @type {StatusCompare} */
  const compare = await waitFor(async () => {
    const result = await compareStatuses(expected);
    if (result.mismatches.length === 0 && result.external === 0) return result;
    return performance.now() > deadline ? result : undefined;
  }, 100);
  drift.compare = compare;
  const repairMs = performance.now() - runStart;
  drift.repairMs = repairMs;
  state.timings.repairMs = repairMs;
  const repaired = changes.length - compare.mismatches.filter((m) => changes.some((c) => c.orderId === m.supplierOrderId)).length;
  say(
    `${compare.mismatches.length === 0 ? '✓' : '✗'} sweep repaired     ${fmt(repaired)}/${fmt(changes.length)} drifted orders in step with 1688 ` +
      `${secs(repairMs)} after POST /reconciliation/run; ${fmt(compare.matched)}/${fmt(compare.total)} supplier statuses match 1688`,
  );

  // One repaired order, the way a client sees it: GET /orders?supplierOrderId=, then its history.
  const first = changes[0];
  if (first) {
    /** @type {{ items: Array<{ id: string; supplierStatus: string | null }> }} */
    const found = await api('GET', `/orders?supplierOrderId=${encodeURIComponent(first.orderId)}`);
    const order = found.items[0];
    if (order) {
      /** @type {{ items: HistoryItem[] }} */
      const history = await api('GET', `/orders/${encodeURIComponent(order.id)}/events`);
      drift.example = { orderId: order.id, supplierOrderId: first.orderId, items: history.items };
      const steps = history.items
        .filter((e) => e.kind === 'supplier_message' && e.outcome === 'applied')
        .map((e) => `${e.supplierStatus} (${e.source === '1688-reconcile' ? bold('1688-reconcile') : e.source})`);
      say(`  GET /orders/${order.id}/events → supplier statuses applied: ${steps.join(' → ')}`);
    }
  }
}

/** @param {ReconciliationView} view */
function reconciliationLine(view) {
  /** @param {SyncRun | null} r */
  const run = (r) =>
    r
      ? `${r.trigger} ${r.outcome ?? 'running'} in ${r.finishedAt ? secs(Date.parse(r.finishedAt) - Date.parse(r.startedAt)) : '?'}` +
        ` (${Object.entries(r.counts ?? {})
          .map(([k, v]) => `${k} ${fmt(v)}`)
          .join(', ')})`
      : 'none yet';
  return `sweep ${run(view.sweep.last)}, watermark ${view.sweep.watermark ?? 'none'}, schedule ${view.sweep.schedule}; pull ${run(view.pull.last)}`;
}

/**
 * Every supplier order of `expected` against ours: linked to exactly one order, with that status.
 * @param {Record<string, string>} expected supplier order id -> 1688's status
 * @returns {Promise<StatusCompare>}
 */
async function compareStatuses(expected) {
  const ids = Object.keys(expected);
  /** @type {{ rows: Array<{ id: string; status: string; supplier_order_id: string | null; supplier_status: string | null }> }} */
  const { rows } = await database().query(
    `SELECT id, status, supplier_order_id, supplier_status FROM orders WHERE supplier_order_id = ANY($1::text[]) OR status = 'EXTERNAL'`,
    [ids],
  );
  /** @type {Map<string, typeof rows>} */
  const bySupplierId = new Map();
  let external = 0;
  for (const row of rows) {
    if (row.status === 'EXTERNAL') external++;
    if (!row.supplier_order_id) continue;
    const list = bySupplierId.get(row.supplier_order_id) ?? [];
    list.push(row);
    bySupplierId.set(row.supplier_order_id, list);
  }
  /** @type {StatusCompare['mismatches']} */
  const mismatches = [];
  let matched = 0;
  for (const id of ids) {
    const linked = bySupplierId.get(id) ?? [];
    const [only] = linked;
    if (linked.length === 1 && only && only.supplier_status === expected[id] && only.status !== 'EXTERNAL') matched++;
    else
      mismatches.push({
        supplierOrderId: id,
        expected: expected[id] ?? '?',
        found: linked.map((r) => `${r.id}:${r.status}:${r.supplier_status}`).join(', ') || 'no order',
      });
  }
  return { total: ids.length, matched, mismatches, external };
}

// ---------------------------------------------------------------------------------------------
// Facts for the checks, gathered after the run (also after a failure, as far as they can be)

/**
 * @typedef {{ id: string; status: string; supplier_order_id: string | null; supplier_status: string | null; last_error: string | null }} OrderRow
 * @typedef {{
 *   orders?: OrderRow[]; ordersError?: string;
 *   depths?: Awaited<ReturnType<typeof queueDepths>>; depthsError?: string;
 *   fake?: FakeSupplierStats; fakeError?: string;
 *   answers?: Map<string, string | null>; answersError?: string;
 *   fake1688?: Fake1688Stats; fake1688Error?: string;
 *   repairs?: Map<string, string[]>; repairsError?: string;
 * }} Facts
 */

/** @returns {Promise<Facts>} */
async function collectFacts() {
  /** @type {Record<string, unknown>} */
  const facts = {};
  const timeout = AbortSignal.timeout(15_000);
  /**
   * @param {keyof Facts} name
   * @param {() => Promise<unknown>} fn
   */
  const tryIt = async (name, fn) => {
    try {
      facts[name] = await Promise.race([
        fn(),
        new Promise((_, reject) => timeout.addEventListener('abort', () => reject(new Error('timed out')), { once: true })),
      ]);
    } catch (error) {
      facts[`${name}Error`] = /** @type {Error} */ (error).message;
    }
  };
  const db = state.db;
  if (db) {
    await tryIt('orders', async () => {
      const { rows } = await db.query(`SELECT id, status, supplier_order_id, supplier_status, last_error FROM orders ORDER BY id`);
      return rows;
    });
    // The statuses the sweep applied (1688-reconcile messages), per supplier order.
    await tryIt('repairs', async () => {
      /** @type {{ rows: Array<{ message_id: string; supplier_status: string }> }} */
      const { rows } = await db.query(
        `SELECT message_id, supplier_status FROM order_history WHERE kind = 'supplier_message' AND source = '1688-reconcile' AND outcome = 'applied'`,
      );
      /** @type {Map<string, string[]>} */
      const bySupplierId = new Map();
      for (const row of rows) {
        const id = row.message_id.split('-')[0] ?? '';
        bySupplierId.set(id, [...(bySupplierId.get(id) ?? []), row.supplier_status]);
      }
      return bySupplierId;
    });
  }
  if (state.api) await tryIt('depths', () => queueDepths({ abortSignal: timeout }));
  const fake = state.fake;
  if (fake && !state.fakeStopping) {
    await tryIt('fake', () => fake.stats({ keys: true }));
    const rows = /** @type {OrderRow[]} */ (facts.orders ?? []);
    const completed = rows.filter((o) => o.status === 'COMPLETED');
    await tryIt('answers', async () => {
      const answers = await mapLimit(completed, 32, async (o) => {
        const key = await fake.keyStats(o.id);
        return /** @type {[string, string | null]} */ ([o.id, key.answer?.body?.supplierOrderId ?? null]);
      });
      return new Map(answers);
    });
  }
  const fake1688 = state.fake1688;
  if (fake1688 && !state.fake1688Stopping) await tryIt('fake1688', () => fake1688.admin('GET', '/_admin/stats'));
  return /** @type {Facts} */ (facts);
}

/**
 * @typedef {{ name: string; result: 'PASS' | 'FAIL' | 'NOT RUN'; detail: string }} Check
 */

/**
 * @param {Facts} facts
 * @returns {Check[]}
 */
function evaluate(facts) {
  const n = cli.orders;
  /** @type {Check[]} */
  const checks = [];
  /**
   * @param {string} name
   * @param {boolean | null} pass
   * @param {string} detail
   */
  const add = (name, pass, detail) => checks.push({ name, result: pass === null ? 'NOT RUN' : pass ? 'PASS' : 'FAIL', detail });
  const orders = facts.orders?.filter((o) => o.status !== 'EXTERNAL') ?? null;
  const byStatus = (/** @type {string} */ status) => orders?.filter((o) => o.status === status) ?? [];

  add(
    'orders created',
    state.createdCount === null ? null : state.createdCount === n,
    state.createdCount === null ? 'not reached' : `${fmt(state.createdCount)} of ${fmt(n)} created by POST /orders/batch`,
  );

  if (facts.fake && orders) {
    const perKey = facts.fake.perKey ?? {};
    let once = 0;
    const wrong = [];
    for (const o of orders) {
      const effects = perKey[o.id]?.sideEffects ?? 0;
      const ok = o.status === 'FAILED' ? effects <= 1 : effects === 1;
      if (ok && effects === 1) once++;
      if (!ok) wrong.push(`${o.id}: ${effects} side effects (${o.status})`);
    }
    const pass = wrong.length === 0 && facts.fake.duplicateSideEffects === 0 && facts.fake.keys === n && orders.length === n;
    add(
      'every order dispatched exactly once',
      pass,
      `${fmt(once)}/${fmt(n)} with 1 side effect, ${fmt(facts.fake.duplicateSideEffects)} duplicates, ${fmt(facts.fake.keys)} keys` +
        (wrong.length ? `; ${wrong.slice(0, 3).join('; ')}` : ''),
    );
  } else add('every order dispatched exactly once', null, facts.fakeError ?? facts.ordersError ?? 'no supplier API stats');

  if (orders) {
    const completed = byStatus('COMPLETED').length;
    const failed = byStatus('FAILED');
    const failedWithReason = failed.filter((o) => o.last_error).length;
    const open = orders.length - completed - failed.length;
    const pass = orders.length === n && completed + failedWithReason === n;
    const reasons = [...new Set(failed.map((o) => o.last_error ?? 'no reason'))].slice(0, 2).join('; ');
    add(
      'every order COMPLETED (or FAILED with reason)',
      pass,
      `${fmt(completed)} COMPLETED, ${fmt(failed.length)} FAILED${open ? `, ${fmt(open)} still open` : ''}${reasons ? `: ${reasons}` : ''}`,
    );
  } else add('every order COMPLETED (or FAILED with reason)', null, facts.ordersError ?? 'no database');

  if (orders && facts.answers && state.pages) {
    const completed = byStatus('COMPLETED');
    const answers = facts.answers;
    const linked = completed.filter((o) => o.supplier_order_id && o.supplier_order_id === answers.get(o.id)).length;
    const distinct = new Set(completed.map((o) => o.supplier_order_id)).size === completed.length;
    const listedIds = state.pages.items.map((o) => o.id);
    const listedOnce = new Set(listedIds).size === listedIds.length && listedIds.length === completed.length;
    add(
      'supplier order ids linked and listed',
      linked === completed.length && distinct && listedOnce,
      `${fmt(linked)}/${fmt(completed.length)} match the supplier's answer${distinct ? '' : ', DUPLICATE ids'}; GET /orders listed ${fmt(listedIds.length)} in ${state.pages.pages} page(s)${listedOnce ? '' : ' (NOT each once)'}`,
    );
  } else add('supplier order ids linked and listed', null, facts.answersError ?? 'not reached');

  const sim = state.simReport;
  if (sim) {
    add(
      '1688 pushes acknowledged === sent',
      !sim.aborted && sim.failed === 0 && sim.notSent === 0 && sim.acknowledged === sim.sent,
      `${fmt(sim.acknowledged)}/${fmt(sim.sent)} acknowledged, ${fmt(sim.failed)} failed, ${fmt(sim.retried)} re-sent; answers ${Object.entries(
        sim.responses,
      )
        .map(([k, v]) => `${k}×${fmt(v)}`)
        .join(' ')}`,
    );
  } else add('1688 pushes acknowledged === sent', null, 'not reached');

  const cmp = state.statusCompare;
  if (cmp) {
    const sample = cmp.mismatches
      .slice(0, 2)
      .map((m) => `${m.supplierOrderId} want ${m.expected}, got ${m.found}`)
      .join('; ');
    add(
      'supplierStatus === 1688 last status',
      cmp.mismatches.length === 0 && cmp.external === 0,
      `${fmt(cmp.matched)}/${fmt(cmp.total)} orders match, ${fmt(cmp.external)} EXTERNAL${sample ? `; ${sample}` : ''}`,
    );
  } else add('supplierStatus === 1688 last status', null, 'not reached');

  const drift = state.drift;
  if (drift && drift.compare && facts.repairs) {
    const repairs = facts.repairs;
    const missed = drift.changes.filter((c) => !(repairs.get(c.orderId) ?? []).includes(c.status));
    const sweep = drift.sweep;
    const counts = sweep?.counts ?? {};
    const sample = drift.compare.mismatches
      .slice(0, 2)
      .map((m) => `${m.supplierOrderId} want ${m.expected}, got ${m.found}`)
      .join('; ');
    add(
      'drift at 1688 repaired by the sweep',
      drift.changes.length > 0 &&
        missed.length === 0 &&
        drift.compare.mismatches.length === 0 &&
        drift.compare.external === 0 &&
        sweep?.outcome === 'ok' &&
        (counts.drifted ?? 0) >= drift.changes.length,
      `${fmt(drift.changes.length - missed.length)}/${fmt(drift.changes.length)} changed at 1688 without a push got a 1688-reconcile status ` +
        `(sweep: ${sweep?.outcome ?? 'not run'}, ${fmt(counts.pages ?? 0)} pages, ${fmt(counts.examined ?? 0)} examined, ${fmt(counts.drifted ?? 0)} drifted, ${fmt(counts.unknown ?? 0)} unknown); ` +
        `${fmt(drift.compare.matched)}/${fmt(drift.compare.total)} orders in step with 1688${sample ? `; ${sample}` : ''}`,
    );
  } else add('drift at 1688 repaired by the sweep', null, facts.repairsError ?? 'not reached');

  if (facts.fake1688) {
    const f = facts.fake1688;
    add(
      '1688 Open API rate limit kept',
      f.maxCallsPerSecond <= ALIBABA_RATE_LIMIT && f.rejectedForRate === 0,
      `most calls in a sliding second ${fmt(f.maxCallsPerSecond)} (ALIBABA_API_RATE_LIMIT ${ALIBABA_RATE_LIMIT}), ${fmt(f.rejectedForRate)} refused (gw.Qos); ` +
        `calls ${Object.entries(f.callsByApi)
          .map(([k, v]) => `${k}×${fmt(v)}`)
          .join(' ')}`,
    );
  } else add('1688 Open API rate limit kept', null, facts.fake1688Error ?? 'no fake 1688 stats');

  const op = state.operator;
  if (op) {
    const pass =
      op.dispatchRunClient === 403 &&
      op.reconciliationRunClient === 403 &&
      op.retryAllClient === 403 &&
      op.dashboardClient === 403 &&
      op.dispatchRunAdmin === 200 &&
      op.deadLettersClient === 200 &&
      op.dashboardAdmin >= 200 &&
      op.dashboardAdmin < 400 &&
      op.ready === 200 &&
      op.backlog === 200;
    add(
      'operator routes need the admin key',
      pass,
      `client key: POST /dispatch/run ${op.dispatchRunClient}, POST /reconciliation/run ${op.reconciliationRunClient}, retry-all ${op.retryAllClient}, /admin/queues ${op.dashboardClient}, GET dead letters ${op.deadLettersClient}; ` +
        `admin key: POST /dispatch/run ${op.dispatchRunAdmin}, /admin/queues ${op.dashboardAdmin}; /health/ready ${op.ready}, /health/backlog ${op.backlog}`,
    );
  } else add('operator routes need the admin key', null, 'not reached');

  if (facts.depths) {
    const perQueue = facts.depths.work
      .filter((q) => q.deadLettered > 0)
      .map((q) => `${q.name} ${q.deadLettered}`)
      .join(', ');
    add(
      'no dead letters',
      facts.depths.deadLettered === 0,
      facts.depths.deadLettered === 0 ? `0 in ${facts.depths.work.map((q) => q.name).join(', ')}` : perQueue,
    );
  } else add('no dead letters', null, facts.depthsError ?? 'not reached');

  const died = state.services.filter((p) => p.exit && !p.stopping);
  const warnings = state.services.reduce((s, p) => s + p.warnings, 0);
  const errors = state.services.reduce((s, p) => s + p.errors, 0);
  add(
    'ordersync processes stayed up',
    state.services.length === WORKERS + 1 ? died.length === 0 : null,
    died.length
      ? died.map((p) => `${p.label} exited ${p.exit?.code ?? p.exit?.signal}`).join(', ')
      : `api + ${WORKERS} workers; logged ${fmt(errors)} errors, ${fmt(warnings)} warnings`,
  );
  return checks;
}

/**
 * @param {Check[]} checks
 * @param {Facts} facts
 * @param {Error | null} failure
 */
function printSummary(checks, facts, failure) {
  const nameWidth = Math.max(...checks.map((c) => c.name.length));
  const lines = [
    '',
    bold('Summary'),
    `  ${'check'.padEnd(nameWidth)}  result   detail`,
    `  ${'─'.repeat(nameWidth)}  ───────  ${'─'.repeat(40)}`,
  ];
  for (const c of checks) {
    const result = c.result === 'PASS' ? green(c.result.padEnd(7)) : red(c.result.padEnd(7));
    lines.push(`  ${c.name.padEnd(nameWidth)}  ${result}  ${c.detail}`);
  }
  lines.push('');
  const t = state.timings;
  const timing = [
    t.startMs !== undefined && `services up ${secs(t.startMs)}`,
    t.dispatchMs !== undefined && `${fmt(cli.orders)} orders dispatched in ${secs(t.dispatchMs)}`,
    state.simReport && `${fmt(state.simReport.sent)} pushes in ${secs(state.simReport.elapsedMs)}`,
    t.settleMs !== undefined && `applied ${secs(t.settleMs)} after the last push`,
    t.repairMs !== undefined && `drift repaired ${secs(t.repairMs)} after POST /reconciliation/run`,
    `total ${secs(elapsed())}`,
  ].filter(Boolean);
  lines.push(`  ${dim('time')}          ${timing.join(' · ')}`);
  if (facts.fake) {
    const f = facts.fake;
    const answers =
      Object.entries(f.answers)
        .map(([k, v]) => `${k}×${fmt(v)}`)
        .join(' ') || 'none';
    lines.push(
      `  ${dim('supplier API')}  ${fmt(f.calls)} calls, ${fmt(f.sideEffects)} side effects, answers ${answers}, ${fmt(f.replays)} replays, ` +
        `${fmt(f.conflicts)} conflicts, max ${fmt(f.maxCallsPerSecond)} calls/s in a sliding second (EXTERNAL_API_RATE_LIMIT ${RATE_LIMIT}` +
        `${f.maxCallsPerSecond > RATE_LIMIT ? ', exceeded' : ''}), ${fmt(f.rejectedForRate)} rate-limited`,
    );
  }
  if (facts.fake1688) {
    const f = facts.fake1688;
    lines.push(
      `  ${dim('1688 Open API')} ${fmt(f.calls)} calls (${Object.entries(f.callsByApi)
        .map(([k, v]) => `${k}×${fmt(v)}`)
        .join(' ')}), max ${fmt(f.maxCallsPerSecond)} calls/s in a sliding second (ALIBABA_API_RATE_LIMIT ${ALIBABA_RATE_LIMIT})`,
    );
  }
  if (facts.orders) {
    /** @type {Record<string, number>} */
    const sup = {};
    for (const o of facts.orders) if (o.supplier_status) sup[o.supplier_status] = (sup[o.supplier_status] ?? 0) + 1;
    const keys = ordered(sup, SUPPLIER_STATUSES);
    if (keys.length) lines.push(`  ${dim('1688 status')}   ${keys.map((k) => `${k} ${fmt(sup[k])}`).join(' · ')}`);
  }
  const failed = checks.filter((c) => c.result !== 'PASS');
  lines.push('');
  if (failed.length === 0 && !failure) lines.push(green(bold(`PASS: all ${checks.length} checks passed in ${secs(elapsed())}`)));
  else
    lines.push(
      red(bold(`FAIL: ${failed.length} of ${checks.length} checks did not pass${failure ? ` (run stopped: ${failure.message})` : ''}`)),
    );
  say(lines.join('\n'));
  return failed.length === 0 && !failure;
}

function printLogTails() {
  for (const proc of state.services) {
    say(
      dim(
        `── last ${proc.tail.length} lines of ordersync ${proc.label} (pid ${proc.pid}${proc.exit ? `, exited ${proc.exit.code ?? proc.exit.signal}` : ''}) ──`,
      ),
    );
    say(proc.tail.join('\n'));
  }
}

// ---------------------------------------------------------------------------------------------
// Cleanup: children first (they hold the database), then the database and the Redis keys

async function cleanup() {
  stopTicker();
  /** @type {string[]} */
  const done = [];
  await Promise.all(state.services.map((proc) => stopOrdersync(proc)));
  if (state.services.length) done.push(`stopped ${state.services.length} ordersync processes`);
  /**
   * The fake that `promise` starts, if it starts within 3 s.
   * @template T
   * @param {Promise<T> | null} promise
   * @returns {Promise<T | null>}
   */
  const started = async (promise) =>
    promise
      ? Promise.race([promise.catch(() => null), new Promise((/** @type {(v: null) => void} */ r) => setTimeout(() => r(null), 3_000))])
      : null;
  const fake1688 = state.fake1688 ?? (await started(state.fake1688Promise));
  if (fake1688) {
    state.fake1688 = fake1688;
    state.fake1688Stopping = true;
    await fake1688.stop().catch(() => null);
    done.push('the fake 1688 Open API');
  }
  const fake = state.fake ?? (await started(state.fakePromise));
  if (fake) {
    state.fake = fake;
    state.fakeStopping = true;
    const exit = await fake.stop({ timeoutMs: 5_000 }).catch(() => null);
    done.push('the fake supplier API');
    const summary = exit?.output?.trim().split('\n').pop();
    if (summary && summary.includes('summary')) done.push(dim(`(${summary.slice(0, 120)})`));
  }
  if (state.db) await state.db.end().catch(() => {});
  if (cli.keep) {
    printKeepHelp();
    say(dim(`cleanup: ${done.join(', ')}`));
    return;
  }
  try {
    const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(names.databaseName)} WITH (FORCE)`);
    await admin.end();
    done.push(`dropped ${names.databaseName}`);
  } catch (error) {
    done.push(red(`could not drop ${names.databaseName}: ${/** @type {Error} */ (error).message}`));
  }
  try {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
    redis.on('error', () => {});
    await redis.connect();
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${names.queuePrefix}:*`, 'COUNT', 1000);
      if (keys.length) deleted += await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    redis.disconnect();
    done.push(`deleted ${fmt(deleted)} Redis keys ${names.queuePrefix}:*`);
  } catch (error) {
    done.push(red(`could not delete Redis keys ${names.queuePrefix}:*: ${/** @type {Error} */ (error).message}`));
  }
  say(dim(`cleanup: ${done.join(', ')}`));
}

function printKeepHelp() {
  const env = Object.entries({
    NODE_ENV: 'production',
    ROLE: 'api',
    PORT: '3000',
    DATABASE_URL: names.databaseUrl,
    QUEUE_PREFIX: names.queuePrefix,
    ...SECRETS,
  })
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  say(
    [
      '',
      bold(`Kept database ${names.databaseName} and Redis keys ${names.queuePrefix}:*`),
      `  psql ${names.databaseUrl} -c 'SELECT status, supplier_status, count(*) FROM orders GROUP BY 1, 2 ORDER BY 1, 2'`,
      `  psql ${names.databaseUrl} -c "SELECT * FROM order_events WHERE order_id = 'demo-${'1'.padStart(String(cli.orders).length, '0')}' ORDER BY id"`,
      `  ${env} node dist/main.js`,
      `    then: curl -H 'Authorization: Bearer ${API_KEY}' 'http://127.0.0.1:3000/orders?limit=5'   (also /queues, /health/backlog)`,
      `          curl -u ':${ADMIN_KEY}' http://127.0.0.1:3000/admin/queues   (the dashboard and POST /dispatch/run need the admin key)`,
      `  remove: psql ${ADMIN_DATABASE_URL} -c 'DROP DATABASE "${names.databaseName}" WITH (FORCE)'; redis-cli --scan --pattern '${names.queuePrefix}:*' | xargs -r redis-cli del`,
    ].join('\n'),
  );
}

// ---------------------------------------------------------------------------------------------

async function main() {
  /** @type {NodeJS.Signals | null} */
  let interrupted = null;
  for (const sig of /** @type {NodeJS.Signals[]} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) {
    process.on(sig, () => {
      if (interrupted) {
        endStatus();
        say(red(`${sig} again: killing every child now (database ${names.databaseName} and keys ${names.queuePrefix}:* stay)`));
        killEverythingNow();
        process.exit(130);
      }
      interrupted = sig;
      stopRun(`interrupted by ${sig}`);
    });
  }
  const deadline = setTimeout(() => stopRun(`deadline of ${cli.deadlineSec} s reached in phase "${state.phase}"`), cli.deadlineSec * 1_000);

  /** @type {Error | null} */
  let failure = null;
  try {
    await run();
  } catch (error) {
    failure = /** @type {Error} */ (signal.aborted ? signal.reason : error);
    stopRun(failure.message); // stops the simulator and every wait
  }
  clearTimeout(deadline);
  stopTicker();
  endStatus();
  if (failure) say(red(`✗ ${failure instanceof DemoStop ? '' : `${state.phase}: `}${failure.message}`));

  // Cleanup is bounded: past the limit every child is killed and the script exits.
  const hardStop = setTimeout(() => {
    say(red(`cleanup took more than ${CLEANUP_LIMIT_MS / 1000} s: killing every child (database ${names.databaseName} may remain)`));
    killEverythingNow();
    process.exit(1);
  }, CLEANUP_LIMIT_MS + STOP_GRACE_MS);
  hardStop.unref();

  let pass = false;
  try {
    state.facts = await collectFacts();
    const checks = evaluate(state.facts);
    const anyFail = failure || checks.some((c) => c.result !== 'PASS');
    if ((anyFail && !interrupted) || process.env.DEMO_SHOW_LOGS) printLogTails();
    pass = printSummary(checks, state.facts, failure);
  } catch (error) {
    say(red(`summary failed: ${/** @type {Error} */ (error).stack ?? String(error)}`));
  }
  await cleanup();
  clearTimeout(hardStop);
  process.exit(pass ? 0 : interrupted === 'SIGINT' ? 130 : 1);
}

await main();
