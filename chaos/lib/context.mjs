// @ts-check
// The scenario context: its own database, queue prefix and temporary directory, the processes it
// started, the figures, checks and actions for the report, and the cleanup at the end.
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { spawnFake1688OpenApi } from '../../tools/fake-1688-open-api.mjs';
import { fake1688Credentials, harnessSecretEnv } from '../../tools/lib/harness-secrets.mjs';
import { minimalEnv } from '../../tools/lib/harness-service.mjs';
import { spawnFakeSupplierApi } from '../../tools/fake-supplier-api.mjs';
import {
  ADMIN_DATABASE_URL,
  CHAOS_APP_NAME,
  SHARED_REDIS_URL,
  SHUTDOWN_GRACE_MS,
  STOP_HANG_MS,
  ScenarioAbort,
  freePort,
  messageOf,
  sleep,
} from './common.mjs';
import { PrivateRedis, ServiceProcess, TcpGate } from './processes.mjs';
import { reap, reapWhileRunning } from './reaper.mjs';

/**
 * @typedef {object} Check
 * @property {string} label
 * @property {boolean} ok
 * @property {string} detail
 */

/**
 * @typedef {object} ChildEntry
 * @property {string} label
 * @property {() => Promise<unknown>} kill
 * @property {() => Promise<unknown>} [stop]
 */

/**
 * @param {string} url
 * @param {string} pattern
 */
async function deleteKeys(url, pattern) {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => {});
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 2000);
      if (keys.length) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export class Context {
  /**
   * @param {{ title: string, short: boolean, keepLogs?: boolean }} options
   */
  constructor({ title, short, keepLogs = false }) {
    const id = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
    this.title = title;
    this.short = short;
    this.keepLogs = keepLogs;
    /** Printed before every line (the scenario's number when scenarios run side by side). */
    this.prefix = '';
    /** performance.now() of the scenario's hard deadline. */
    this.deadlineAt = Infinity;
    this.databaseName = `ordersync_chaos_${id}`;
    const url = new URL(ADMIN_DATABASE_URL);
    url.pathname = `/${this.databaseName}`;
    this.databaseUrl = url.toString();
    this.queuePrefix = `oschaos-${id}`;
    this.redisUrl = SHARED_REDIS_URL;
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ordersync-chaos-'));
    reap('add', 'dir', this.tmp);
    reap('add', 'db', this.databaseName);
    reap('add', 'prefix', this.queuePrefix, SHARED_REDIS_URL);
    this.controller = new AbortController();
    this.signal = this.controller.signal;
    setMaxListeners(10_000, this.signal);
    this.started = performance.now();
    /** @type {Set<ChildEntry>} */
    this.children = new Set();
    /** @type {ServiceProcess[]} */
    this.services = [];
    /** @type {{ label: string, value: unknown }[]} */
    this.figures = [];
    /** @type {Check[]} */
    this.checks = [];
    /** @type {string[]} */
    this.actions = [];
    /** @type {string[]} */
    this.crashes = [];
    /** @type {string[]} */
    this.errorLines = [];
    /** @type {Map<string, number>} */
    this.logCounts = new Map();
    /** @type {{ name: string, regex: RegExp }[]} */
    this.watches = [];
    /** @type {Map<string, string[]>} the first lines each watch matched (evidence for the report) */
    this.watchExamples = new Map();
    /** @type {Map<string, { name: string, regex: RegExp, lines: Map<string, number> }>} per-process counts of some watches */
    this.perProcess = new Map();
    this.ending = false;
    /** @type {pg.Pool[]} */
    this.pools = [];
    /** @type {pg.Pool | null} */
    this.dbPool = null;
    /** @type {pg.Pool | null} */
    this.adminPool = null;
    /** @type {PrivateRedis | null} */
    this.privateRedis = null;
  }

  elapsedMs() {
    return performance.now() - this.started;
  }

  /**
   * Prints a line of this scenario.
   *
   * @param {string} line
   */
  print(line) {
    console.log(`${this.prefix}${line}`);
  }

  /** @param {string} message */
  log(message) {
    this.print(`  [${(this.elapsedMs() / 1000).toFixed(1).padStart(5)} s] ${message}`);
  }

  /**
   * What the scenario did, for the report.
   *
   * @param {string} text
   */
  did(text) {
    this.actions.push(text);
    this.log(text);
  }

  /**
   * @param {string} label
   * @param {unknown} value
   */
  figure(label, value) {
    const existing = this.figures.find((f) => f.label === label);
    if (existing) existing.value = value;
    else this.figures.push({ label, value });
  }

  /**
   * @param {string} label
   * @param {unknown} ok
   * @param {string} [detail]
   * @returns {boolean}
   */
  check(label, ok, detail = '') {
    this.checks.push({ label, ok: Boolean(ok), detail });
    this.print(`  ${ok ? '✔' : '✘'} ${label}${detail ? ` (${detail})` : ''}`);
    return Boolean(ok);
  }

  get passed() {
    return this.checks.length > 0 && this.checks.every((c) => c.ok);
  }

  /** @param {string} reason */
  abort(reason) {
    if (!this.signal.aborted) this.controller.abort(new ScenarioAbort(reason));
  }

  throwIfAborted() {
    if (this.signal.aborted) throw this.signal.reason;
  }

  /** @param {number} ms */
  sleep(ms) {
    return sleep(ms, this.signal);
  }

  /**
   * Polls `fn` until it returns something other than undefined/false; null on timeout. The
   * timeout never reaches past the scenario's hard deadline minus 15 s, so that the checks after
   * a wait still run (and say what is missing) when something never happens.
   *
   * @template T
   * @param {() => T | Promise<T>} fn
   * @param {{ timeoutMs: number, intervalMs?: number }} options
   * @returns {Promise<Exclude<T, undefined | false> | null>}
   */
  async waitFor(fn, { timeoutMs, intervalMs = 250 }) {
    const deadline = Math.min(performance.now() + timeoutMs, this.deadlineAt - 15_000);
    for (;;) {
      this.throwIfAborted();
      let value;
      try {
        value = await fn();
      } catch {
        value = undefined;
      }
      if (value !== undefined && value !== false) return /** @type {Exclude<T, undefined | false>} */ (value);
      if (performance.now() > deadline) return null;
      await this.sleep(intervalMs);
    }
  }

  /**
   * Counts log lines of every service process that match `regex` under `name`.
   *
   * @param {string} name
   * @param {RegExp} regex
   * @param {{ perProcess?: boolean }} [options] also count per process label
   */
  watchLog(name, regex, { perProcess = false } = {}) {
    this.watches.push({ name, regex });
    this.logCounts.set(name, this.logCounts.get(name) ?? 0);
    if (perProcess) this.perProcess.set(name, { name, regex, lines: new Map() });
  }

  /**
   * @param {string} name
   * @param {string} label
   * @returns {number}
   */
  logCountOf(name, label) {
    return this.perProcess.get(name)?.lines.get(label) ?? 0;
  }

  /**
   * @param {string} label
   * @param {string} line
   */
  onLogLine(label, line) {
    if (
      line.includes('"level":"error"') ||
      line.includes('"level":"fatal"') ||
      line.includes('"level":50') ||
      line.includes('"level":60')
    ) {
      this.logCounts.set('error lines', (this.logCounts.get('error lines') ?? 0) + 1);
      this.errorLines.push(`${label}: ${line.slice(0, 600)}`);
      if (this.errorLines.length > 200) this.errorLines.splice(0, 100);
    }
    for (const watch of this.watches) {
      if (!watch.regex.test(line)) continue;
      this.logCounts.set(watch.name, (this.logCounts.get(watch.name) ?? 0) + 1);
      const examples = this.watchExamples.get(watch.name) ?? [];
      if (examples.length < 3) examples.push(`${label}: ${line.slice(0, 700)}`);
      this.watchExamples.set(watch.name, examples);
      const per = this.perProcess.get(watch.name);
      if (per) per.lines.set(label, (per.lines.get(label) ?? 0) + 1);
    }
  }

  /** A pool on the scenario's database, for verification; its connections are never terminated. */
  db() {
    if (!this.dbPool) {
      this.dbPool = new pg.Pool({ connectionString: this.databaseUrl, max: 3, idleTimeoutMillis: 0, application_name: CHAOS_APP_NAME });
      this.dbPool.on('error', () => {});
      this.pools.push(this.dbPool);
    }
    return this.dbPool;
  }

  /** A pool on the admin database (pg_stat_activity, ALTER DATABASE, pg_terminate_backend). */
  admin() {
    if (!this.adminPool) {
      this.adminPool = new pg.Pool({
        connectionString: ADMIN_DATABASE_URL,
        max: 3,
        idleTimeoutMillis: 0,
        application_name: CHAOS_APP_NAME,
      });
      this.adminPool.on('error', () => {});
      this.pools.push(this.adminPool);
    }
    return this.adminPool;
  }

  /** The service's own Postgres connections right now (the suite's excluded). */
  async serviceConnections() {
    const { rows } = await this.admin().query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name IS DISTINCT FROM $2`,
      [this.databaseName, CHAOS_APP_NAME],
    );
    return /** @type {number} */ (rows[0].n);
  }

  /**
   * The environment of every service process: production, the harness credentials, this
   * scenario's database, Redis and queue prefix; nothing inherited from this shell.
   *
   * @param {Record<string, string>} [extra]
   * @returns {Record<string, string>}
   */
  serviceEnv(extra = {}) {
    return {
      ...minimalEnv(),
      NODE_ENV: 'production',
      PORT: '0',
      DATABASE_URL: this.databaseUrl,
      REDIS_URL: this.redisUrl,
      QUEUE_PREFIX: this.queuePrefix,
      ...harnessSecretEnv(),
      LOG_LEVEL: 'info',
      SHUTDOWN_GRACE_MS: String(SHUTDOWN_GRACE_MS),
      ...extra,
    };
  }

  /**
   * Starts `node dist/main.js` (the run's snapshot) and waits for its "ordersync started" line.
   *
   * @param {{ label: string, role: string, port?: number, workerHttpPort?: number, env?: Record<string, string> }} options
   */
  async startService(options) {
    const proc = new ServiceProcess(this, options);
    await proc.start();
    this.services.push(proc);
    return proc;
  }

  /** @param {import('../../tools/fake-supplier-api.mjs').SpawnFakeSupplierOptions} options */
  async startFakeSupplier(options) {
    const supplier = await spawnFakeSupplierApi(options);
    reapWhileRunning(supplier.pid, supplier.exited);
    this.children.add({ label: 'fake supplier API', kill: () => supplier.kill(), stop: () => supplier.stop({ timeoutMs: 5_000 }) });
    return supplier;
  }

  /**
   * The fake 1688 Open API in a process of its own, accepting the harness credentials (app key,
   * secret and tokens of harnessSecretEnv / alibabaSyncEnv).
   *
   * @param {import('../../tools/fake-1688-open-api.mjs').Fake1688Options} [options]
   */
  async startFake1688(options = {}) {
    const fake = await spawnFake1688OpenApi({ ...fake1688Credentials(), ...options });
    reapWhileRunning(fake.pid, fake.exited);
    this.children.add({ label: 'fake 1688 Open API', kill: () => fake.kill(), stop: () => fake.stop() });
    return fake;
  }

  /**
   * A TCP gate on a port of its own in front of `targetPort` (see TcpGate): closed, it refuses
   * connections while what is behind it keeps running.
   *
   * @param {number} targetPort
   * @param {string} label
   */
  async startGate(targetPort, label) {
    const gate = new TcpGate(targetPort, await freePort());
    await gate.openGate();
    this.children.add({ label, kill: () => gate.closeGate() });
    return gate;
  }

  /**
   * A gate in front of the fake supplier API: the service is pointed at it, so that the supplier
   * can refuse connections (gate closed) while the fake keeps counting.
   *
   * @param {{ port: number }} supplier
   */
  async startSupplierGate(supplier) {
    const gate = await this.startGate(supplier.port, 'supplier gate');
    return Object.assign(gate, { url: `http://127.0.0.1:${gate.port}/orders` });
  }

  async startPrivateRedis() {
    const redis = new PrivateRedis(await freePort(), path.join(this.tmp, 'redis'));
    await redis.start();
    this.children.add({ label: 'private redis', kill: () => redis.kill9(), stop: () => redis.kill9() });
    this.redisUrl = redis.url;
    this.privateRedis = redis;
    return redis;
  }

  /**
   * SIGTERM to every service process at once; each must exit 0 within SHUTDOWN_GRACE_MS + 5 s
   * (after that it is killed and counted as a hang). Returns what each did.
   */
  async stopServicesGracefully() {
    const alive = this.services.filter((s) => s.alive);
    const results = await Promise.all(alive.map(async (s) => ({ label: s.label, ...(await s.stop(STOP_HANG_MS)) })));
    const bad = results.filter((r) => r.code !== 0 || r.forced);
    const slowest = Math.max(0, ...results.map((r) => r.ms));
    this.check(
      `every service process stopped on SIGTERM with exit code 0 (no hang at shutdown)`,
      bad.length === 0,
      bad.length === 0
        ? `${results.length} processes, slowest ${(slowest / 1000).toFixed(1)} s`
        : bad
            .map((r) => `${r.label}: ${r.forced ? `still running after ${STOP_HANG_MS / 1000} s, killed` : `exit ${r.code ?? r.signal}`}`)
            .join('; '),
    );
    return results;
  }

  /** Kills everything still running, drops the database and the queue keys, removes temp files. */
  async cleanup() {
    this.ending = true;
    this.abort('cleanup');
    for (const s of this.services) if (s.alive) await s.kill9().catch(() => undefined);
    for (const child of [...this.children].reverse()) {
      await Promise.race([(child.stop ?? child.kill)().catch(() => undefined), sleep(7_000)]);
      await child.kill().catch(() => undefined);
    }
    for (const pool of this.pools) await pool.end().catch(() => undefined);
    this.pools = [];
    const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL, application_name: CHAOS_APP_NAME });
    try {
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(this.databaseName)} WITH (FORCE)`);
      reap('del', 'db', this.databaseName);
    } catch (error) {
      this.print(`  (cleanup: could not drop ${this.databaseName}: ${messageOf(error)})`);
    } finally {
      await admin.end().catch(() => undefined);
    }
    try {
      await deleteKeys(SHARED_REDIS_URL, `${this.queuePrefix}:*`);
      reap('del', 'prefix', this.queuePrefix);
    } catch (error) {
      this.print(`  (cleanup: could not delete ${this.queuePrefix}:* keys: ${messageOf(error)})`);
    }
    if (this.keepLogs) {
      this.print(`  logs kept in ${this.tmp}`);
    } else {
      fs.rmSync(this.tmp, { recursive: true, force: true });
    }
    reap('del', 'dir', this.tmp);
  }
}

/**
 * One scenario of the suite (chaos/scenario-*.mjs default-exports one).
 *
 * @typedef {object} Scenario
 * @property {string} id the name --only takes
 * @property {string} title
 * @property {boolean} [fullOnly] not part of --short
 * @property {(short: boolean) => number} deadlineMs its hard deadline
 * @property {(short: boolean) => number} estimateMs about how long it takes (lanes take the longest first)
 * @property {(ctx: Context) => Promise<void>} run
 */
