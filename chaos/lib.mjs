// Shared machinery of the chaos suite (chaos/run.mjs): an isolated database and queue prefix
// per scenario, child processes of the built service (dist/main.js) that can be killed and
// restarted, a private redis-server, the fake supplier API, a 1688-like push sender (re-sends
// non-2xx answers and refused connections with growing gaps) and the checks every scenario
// shares (nothing acknowledged is lost, nothing is applied or sent twice).
//
// Cleaning up: every child process, database, queue prefix and temporary directory is
// registered with a small "reaper" process that outlives this one; when this process goes away
// in any way (Ctrl-C, an exception, even SIGKILL) the reaper's stdin closes and it kills and
// drops whatever is still registered. A normal run unregisters everything itself first.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once, setMaxListeners } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Redis } from 'ioredis';
import { spawnFakeSupplierApi } from '../tools/fake-supplier-api.mjs';
import { planPushes } from '../tools/simulator-1688.mjs';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const ADMIN_DATABASE_URL = process.env.CHAOS_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const SHARED_REDIS_URL = process.env.CHAOS_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const APP_SECRET = 'chaos-app-secret';
export const API_KEY = 'chaos-api-key';
/** application_name of the suite's own Postgres connections: never counted, never terminated. */
export const CHAOS_APP_NAME = 'ordersync-chaos';
/** How long a graceful stop (SIGTERM) may take before it counts as a hang (SHUTDOWN_GRACE_MS + margin). */
const SHUTDOWN_GRACE_MS = 10_000;
const STOP_HANG_MS = SHUTDOWN_GRACE_MS + 5_000;

// ---------------------------------------------------------------------------------------------
// Reaper

const REAPER_SOURCE = String.raw`
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => {});
const admin = process.argv[1];
const sets = { pid: new Map(), db: new Map(), prefix: new Map(), dir: new Map() };
let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buf += chunk;
  let i;
  while ((i = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    try {
      const m = JSON.parse(line);
      if (m.op === 'add') sets[m.kind].set(m.value, m.extra); else sets[m.kind].delete(m.value);
    } catch {}
  }
});
let reaped = false;
function reap() {
  if (reaped) return;
  reaped = true;
  for (const pid of sets.pid.keys()) { try { process.kill(pid, 'SIGKILL'); } catch {} }
  for (const db of sets.db.keys()) spawnSync('psql', [admin, '-qc', 'DROP DATABASE IF EXISTS "' + db + '" WITH (FORCE)'], { stdio: 'ignore', timeout: 30000 });
  for (const [prefix, url] of sets.prefix) spawnSync('sh', ['-c', 'redis-cli -u "$1" --scan --pattern "$2:*" | xargs -r -n 500 redis-cli -u "$1" del >/dev/null', 'sh', url, prefix], { stdio: 'ignore', timeout: 60000 });
  for (const dir of sets.dir.keys()) { try { fs.rmSync(dir, { recursive: true, force: true }); } catch {} }
  process.exit(0);
}
process.stdin.on('end', reap);
process.stdin.on('close', reap);
process.stdin.on('error', reap);
`;

let reaper = null;

export function startReaper() {
  if (reaper) return;
  reaper = spawn(process.execPath, ['-e', REAPER_SOURCE, ADMIN_DATABASE_URL], { cwd: ROOT, detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  reaper.stdin.on('error', () => {});
  reaper.unref();
  reaper.stdin.unref?.();
}

/** Ends the reaper: it cleans whatever is still registered (nothing, after a normal run). */
export function stopReaper() {
  reaper?.stdin.end();
  reaper = null;
}

function reap(op, kind, value, extra) {
  if (reaper?.stdin.writable) reaper.stdin.write(`${JSON.stringify({ op, kind, value, extra })}\n`);
}

// ---------------------------------------------------------------------------------------------
// A snapshot of dist/: other people rebuild dist/ while a run lasts; every process of one run
// starts from the same build, copied at the start (under chaos/.dist-*, removed at the end).

let distDir = path.join(ROOT, 'dist');

export function snapshotDist() {
  const target = path.join(ROOT, 'chaos', `.dist-${process.pid}-${randomBytes(3).toString('hex')}`);
  reap('add', 'dir', target);
  fs.cpSync(path.join(ROOT, 'dist'), target, { recursive: true, filter: (src) => !src.endsWith('.map') && !src.endsWith('.d.ts') });
  distDir = target;
  return target;
}

export function removeDistSnapshot() {
  if (distDir === path.join(ROOT, 'dist')) return;
  fs.rmSync(distDir, { recursive: true, force: true });
  reap('del', 'dir', distDir);
  distDir = path.join(ROOT, 'dist');
}

// ---------------------------------------------------------------------------------------------
// Small helpers

export const sleep = (ms, signal) => delay(ms, undefined, signal ? { signal } : undefined);

export async function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

export const fmt = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : String(n));

export class ScenarioAbort extends Error {}

/** GET/POST JSON against the service (control calls, not pushes). */
export async function httpJson(method, url, { body, key, timeoutMs = 5_000 } = {}) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (key) headers.authorization = `Bearer ${key}`;
  const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: response.status, body: json, text };
}

export function gitInfo() {
  const run = (args) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  const head = run(['rev-parse', '--short=12', 'HEAD']);
  const commit = head.status === 0 ? head.stdout.trim() : 'unknown';
  // Read-only: compares the working tree with HEAD without touching the index.
  const dirty = run(['diff-index', '--quiet', 'HEAD', '--']).status === 1;
  return { commit, dirty };
}

// ---------------------------------------------------------------------------------------------
// The scenario context: names, processes, figures, checks, cleanup

export class Context {
  constructor({ title, short, keepLogs = false }) {
    const id = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
    this.title = title;
    this.short = short;
    this.keepLogs = keepLogs;
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
    this.children = new Set(); // { label, kill(): Promise, stop?(): Promise }
    this.services = [];
    this.figures = [];
    this.checks = [];
    this.actions = [];
    this.crashes = [];
    this.errorLines = [];
    this.logCounts = new Map();
    this.watches = [];
    this.ending = false;
    this.pools = [];
  }

  elapsedMs() {
    return performance.now() - this.started;
  }

  /** Prints a line of this scenario (prefixed with its number when scenarios run side by side). */
  print(line) {
    console.log(`${this.prefix ?? ''}${line}`);
  }

  log(message) {
    this.print(`  [${(this.elapsedMs() / 1000).toFixed(1).padStart(5)} s] ${message}`);
  }

  /** What the scenario did, for the report. */
  did(text) {
    this.actions.push(text);
    this.log(text);
  }

  figure(label, value) {
    const existing = this.figures.find((f) => f.label === label);
    if (existing) existing.value = value;
    else this.figures.push({ label, value });
  }

  check(label, ok, detail = '') {
    this.checks.push({ label, ok: Boolean(ok), detail });
    this.print(`  ${ok ? '✔' : '✘'} ${label}${detail ? ` (${detail})` : ''}`);
    return Boolean(ok);
  }

  get passed() {
    return this.checks.length > 0 && this.checks.every((c) => c.ok);
  }

  abort(reason) {
    if (!this.signal.aborted) this.controller.abort(new ScenarioAbort(reason));
  }

  throwIfAborted() {
    if (this.signal.aborted) throw this.signal.reason;
  }

  sleep(ms) {
    return sleep(ms, this.signal);
  }

  /**
   * Polls `fn` until it returns something other than undefined/false; null on timeout. The
   * timeout never reaches past the scenario's hard deadline minus 15 s, so that the checks after
   * a wait still run (and say what is missing) when something never happens.
   */
  async waitFor(fn, { timeoutMs, intervalMs = 250 } = {}) {
    const deadline = Math.min(performance.now() + timeoutMs, (this.deadlineAt ?? Infinity) - 15_000);
    for (;;) {
      this.throwIfAborted();
      let value;
      try {
        value = await fn();
      } catch {
        value = undefined;
      }
      if (value !== undefined && value !== false) return value;
      if (performance.now() > deadline) return null;
      await this.sleep(intervalMs);
    }
  }

  /** Counts log lines of every service process that match `regex` under `name`. */
  watchLog(name, regex) {
    this.watches.push({ name, regex });
    this.logCounts.set(name, this.logCounts.get(name) ?? 0);
  }

  onLogLine(label, line) {
    if (line.includes('"level":"error"') || line.includes('"level":"fatal"')) {
      this.logCounts.set('error lines', (this.logCounts.get('error lines') ?? 0) + 1);
      this.errorLines.push(`${label}: ${line.slice(0, 600)}`);
      if (this.errorLines.length > 200) this.errorLines.splice(0, 100);
    }
    for (const watch of this.watches) if (watch.regex.test(line)) this.logCounts.set(watch.name, (this.logCounts.get(watch.name) ?? 0) + 1);
  }

  /** A pool on the scenario's database, for verification; its connections are never terminated. */
  db() {
    if (!this._db) {
      this._db = new pg.Pool({ connectionString: this.databaseUrl, max: 3, idleTimeoutMillis: 0, application_name: CHAOS_APP_NAME });
      this._db.on('error', () => {});
      this.pools.push(this._db);
    }
    return this._db;
  }

  /** A pool on the admin database (pg_stat_activity, ALTER DATABASE, pg_terminate_backend). */
  admin() {
    if (!this._admin) {
      this._admin = new pg.Pool({ connectionString: ADMIN_DATABASE_URL, max: 3, idleTimeoutMillis: 0, application_name: CHAOS_APP_NAME });
      this._admin.on('error', () => {});
      this.pools.push(this._admin);
    }
    return this._admin;
  }

  /** The service's own Postgres connections right now (the suite's excluded). */
  async serviceConnections() {
    const { rows } = await this.admin().query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name IS DISTINCT FROM $2`,
      [this.databaseName, CHAOS_APP_NAME],
    );
    return rows[0].n;
  }

  serviceEnv(extra = {}) {
    return {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      NODE_ENV: 'production',
      PORT: '0',
      DATABASE_URL: this.databaseUrl,
      REDIS_URL: this.redisUrl,
      QUEUE_PREFIX: this.queuePrefix,
      ALIBABA_APP_KEY: 'chaos-app-key',
      ALIBABA_APP_SECRET: APP_SECRET,
      WEBHOOK_SECRET: 'chaos-webhook-secret',
      API_KEYS: API_KEY,
      LOG_LEVEL: 'info',
      SHUTDOWN_GRACE_MS: String(SHUTDOWN_GRACE_MS),
      ...extra,
    };
  }

  /** Starts `node dist/main.js` and waits for its "ordersync started" line. */
  async startService({ label, role, port = 0, env = {} }) {
    const proc = new ServiceProcess(this, { label, role, port, env });
    await proc.start();
    this.services.push(proc);
    return proc;
  }

  async startFakeSupplier(options) {
    const supplier = await spawnFakeSupplierApi(options);
    reap('add', 'pid', supplier.pid);
    supplier.exited.then(() => reap('del', 'pid', supplier.pid));
    this.children.add({ label: 'fake supplier API', kill: () => supplier.kill(), stop: () => supplier.stop({ timeoutMs: 5_000 }) });
    return supplier;
  }

  async startPrivateRedis() {
    const redis = new PrivateRedis(this, await freePort(), path.join(this.tmp, 'redis'));
    await redis.start();
    this.children.add({ label: 'private redis', kill: () => redis.kill9(), stop: () => redis.kill9() });
    this.redisUrl = redis.url;
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
        : bad.map((r) => `${r.label}: ${r.forced ? `still running after ${STOP_HANG_MS / 1000} s, killed` : `exit ${r.code ?? r.signal}`}`).join('; '),
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
      await child.kill?.().catch(() => undefined);
    }
    for (const pool of this.pools) await pool.end().catch(() => undefined);
    this.pools = [];
    const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL, application_name: CHAOS_APP_NAME });
    try {
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(this.databaseName)} WITH (FORCE)`);
      reap('del', 'db', this.databaseName);
    } catch (error) {
      this.print(`  (cleanup: could not drop ${this.databaseName}: ${error.message})`);
    } finally {
      await admin.end().catch(() => undefined);
    }
    try {
      await deleteKeys(SHARED_REDIS_URL, `${this.queuePrefix}:*`);
      reap('del', 'prefix', this.queuePrefix);
    } catch (error) {
      this.print(`  (cleanup: could not delete ${this.queuePrefix}:* keys: ${error.message})`);
    }
    if (this.keepLogs) {
      this.print(`  logs kept in ${this.tmp}`);
    } else {
      fs.rmSync(this.tmp, { recursive: true, force: true });
    }
    reap('del', 'dir', this.tmp);
  }
}

/** The message of the last error printed by a dying process (an uncaught exception, a fatal log line). */
function lastErrorLine(log) {
  const lines = log.trimEnd().split('\n').slice(-60);
  const uncaught = lines.findIndex((l) => /^\s*throw er;|Unhandled 'error' event|^Error:|^\w*Error:|^error:/.test(l));
  if (uncaught >= 0) {
    const message = lines.slice(uncaught).find((l) => /^\w*[Ee]rror:/.test(l.trim()));
    const emitted = lines.slice(uncaught).find((l) => /Emitted 'error' event on/.test(l));
    if (message) return `${message.trim()}${emitted ? ` (${emitted.trim().replace(/ at:$/, '')})` : ''}`;
  }
  const fatal = [...lines].reverse().find((l) => l.includes('"level":"fatal"') || l.includes('"level":"error"'));
  return fatal ? (/"msg":"([^"]{0,200})/.exec(fatal)?.[1] ?? '') : '';
}

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

// ---------------------------------------------------------------------------------------------
// Processes

export class ServiceProcess {
  constructor(ctx, { label, role, port, env }) {
    this.ctx = ctx;
    this.label = label;
    this.role = role;
    this.requestedPort = port;
    this.env = env;
    this.port = null;
    this.child = null;
    this.starts = 0;
    this.kills = 0;
  }

  get alive() {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  get baseUrl() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    const ctx = this.ctx;
    ctx.throwIfAborted();
    const env = ctx.serviceEnv({ ROLE: this.role, PORT: String(this.requestedPort), ...this.env });
    const child = spawn(process.execPath, [path.join(distDir, 'main.js')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.expectingExit = false;
    this.starts += 1;
    reap('add', 'pid', child.pid);
    const logFile = fs.createWriteStream(path.join(ctx.tmp, `${this.label}.log`), { flags: 'a' });
    logFile.write(`--- start #${this.starts} pid ${child.pid} at ${new Date().toISOString()}\n`);
    let partial = '';
    let tail = '';
    let startedLine = null;
    let onStarted = null;
    const onData = (chunk) => {
      logFile.write(chunk);
      tail = (tail + chunk.toString()).slice(-16_000);
      partial += chunk.toString();
      let i;
      while ((i = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, i);
        partial = partial.slice(i + 1);
        ctx.onLogLine(this.label, line);
        if (startedLine === null && line.includes('ordersync started')) {
          startedLine = line;
          onStarted?.();
        }
      }
      if (partial.length > 1_000_000) partial = '';
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    this.exited = exited;
    exited.then(() => reap('del', 'pid', child.pid));
    // 'close': the child's output is all in (the reason of a crash is its last lines).
    child.once('close', (code, signal) => {
      logFile.end(`--- exit ${code ?? signal} at ${new Date().toISOString()}\n`);
      if (!this.expectingExit && !ctx.ending && startedLine !== null) {
        const crash = `${this.label} (pid ${child.pid}) exited on its own with ${code ?? signal}`;
        const reason = lastErrorLine(tail);
        ctx.crashes.push(`${crash}${reason ? `: ${reason}` : ''}`);
        ctx.log(`!! ${crash}${reason ? `: ${reason}` : ''}; restarting it in 1 s, as a supervisor would`);
        // Like systemd or Kubernetes: the crash is recorded (the scenario fails), the process is
        // started again so that the rest of the run still measures what was lost.
        this.supervised = sleep(1_000, ctx.signal)
          .then(() => {
            if (!ctx.ending) return this.start();
          })
          .catch((error) => ctx.log(`could not restart ${this.label}: ${error.message.split('\n')[0]}`));
      }
    });
    const timeoutMs = 60_000;
    const outcome = await Promise.race([
      new Promise((resolve) => {
        onStarted = () => resolve('started');
        if (startedLine !== null) resolve('started');
      }),
      exited.then(({ code, signal }) => `exited with ${code ?? signal} before starting`),
      sleep(timeoutMs).then(() => `did not start within ${timeoutMs / 1000} s`),
      new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve('aborted'), { once: true })),
    ]);
    if (outcome !== 'started') {
      this.expectingExit = true;
      child.kill('SIGKILL');
      await Promise.race([once(child, 'close'), sleep(2_000)]);
      throw new Error(`${this.label}: ${outcome}\n${tail.slice(-3_000)}`);
    }
    const match = /"port":(\d+|null)/.exec(startedLine);
    this.port = match && match[1] !== 'null' ? Number(match[1]) : null;
    return this;
  }

  /** kill -9: the crash no code can clean up after. */
  async kill9() {
    if (!this.alive) return;
    this.expectingExit = true;
    this.kills += 1;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM, then SIGKILL after timeoutMs; resolves with { code, signal, ms, forced }. */
  async stop(timeoutMs = STOP_HANG_MS) {
    if (!this.alive) return { code: this.child?.exitCode ?? null, signal: this.child?.signalCode ?? null, ms: 0, forced: false };
    this.expectingExit = true;
    const t0 = performance.now();
    this.child.kill('SIGTERM');
    let forced = false;
    const timer = setTimeout(() => {
      forced = true;
      this.child.kill('SIGKILL');
    }, timeoutMs);
    const { code, signal } = await this.exited;
    clearTimeout(timer);
    return { code, signal, ms: performance.now() - t0, forced };
  }

  /** Starts again with the same settings; a fixed port is taken again, so clients keep their address. */
  async restart() {
    await this.start();
    return this;
  }
}

class PrivateRedis {
  constructor(ctx, port, dir) {
    this.ctx = ctx;
    this.port = port;
    this.dir = dir;
    this.url = `redis://127.0.0.1:${port}`;
    this.child = null;
    fs.mkdirSync(dir, { recursive: true });
  }

  get alive() {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start() {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.dir, '--save', '', '--daemonize', 'no', '--loglevel', 'notice'];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    reap('add', 'pid', child.pid);
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    this.exited = exited;
    exited.then(() => reap('del', 'pid', child.pid));
    let output = '';
    const ready = new Promise((resolve) => {
      const onData = (chunk) => {
        output += chunk;
        if (/Ready to accept connections/.test(output)) resolve('ready');
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
    });
    const outcome = await Promise.race([ready, exited.then((e) => `exited with ${e.code ?? e.signal}`), sleep(20_000).then(() => 'not ready within 20 s')]);
    if (outcome !== 'ready') {
      child.kill('SIGKILL');
      throw new Error(`redis-server: ${outcome}\n${output.slice(-2_000)}`);
    }
    this.loadedFromAof = /DB loaded from append only file|Done loading RDB|DB loaded from/.test(output);
    return this;
  }

  /** SHUTDOWN (fsyncs the AOF and exits). */
  async shutdown() {
    if (!this.alive) return;
    spawnSync('redis-cli', ['-p', String(this.port), 'SHUTDOWN'], { stdio: 'ignore', timeout: 10_000 });
    await Promise.race([this.exited, sleep(10_000)]);
    if (this.alive) await this.kill9();
  }

  async kill9() {
    if (!this.alive) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Keys in the AOF-backed data set (for the report). */
  async dbsize() {
    const out = spawnSync('redis-cli', ['-p', String(this.port), 'DBSIZE'], { encoding: 'utf8', timeout: 5_000 });
    return Number(out.stdout.trim());
  }
}

// ---------------------------------------------------------------------------------------------
// Pushes (1688-like sender)

/**
 * About `messages` pushes of 1688 order lifecycles (waitbuyerpay → ... → success / cancel) for
 * supplier order ids idBase + 1, + 2, ...: a few reordered, a few delivered twice (as 1688 does).
 */
export function makePushes({ messages, idBase, seed = 1688, reorderRate = 0.05, duplicateRate = 0.02 }) {
  const orders = Math.max(1, Math.ceil(messages / 4.4));
  const plan = planPushes({ appSecret: APP_SECRET, count: orders, idBase, seed, reorderRate, duplicateRate });
  const deliveries = plan.deliveries.slice(0, messages).map((d) => ({
    msgId: String(d.msgId),
    orderId: d.orderId,
    status: d.status,
    eventTime: d.eventTime,
    gmtBorn: d.gmtBorn,
    body: d.body,
  }));
  const unique = new Set(deliveries.map((d) => d.msgId)).size;
  return { deliveries, unique, duplicates: deliveries.length - unique };
}

class Semaphore {
  constructor(n) {
    this.free = n;
    this.queue = [];
  }
  acquire() {
    if (this.free > 0) {
      this.free -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.queue.push(resolve));
  }
  release() {
    const next = this.queue.shift();
    if (next) next();
    else this.free += 1;
  }
}

/**
 * Sends pushes the way 1688 does: each delivery is re-sent after a non-2xx answer, a refused or
 * reset connection or a timeout, with growing gaps (retryBaseMs, 2x, 4x ... capped at
 * maxGapMs), `attempts` times at most; then it counts as failed (never acknowledged, so never
 * "lost"). Keep-alive agent, bounded concurrency, bodies signed in advance.
 */
export class PushSender {
  constructor({ baseUrl, concurrency = 32, attempts = 14, retryBaseMs = 200, maxGapMs = 3_000, timeoutMs = 10_000, timeline = false }) {
    this.baseUrl = baseUrl; // () => string
    this.concurrency = concurrency;
    this.attempts = attempts;
    this.retryBaseMs = retryBaseMs;
    this.maxGapMs = maxGapMs;
    this.timeoutMs = timeoutMs;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
    this.acked = new Set();
    this.sentIds = new Set();
    this.deliveries = 0;
    this.requests = 0;
    this.retries = 0;
    this.failed = [];
    this.abandoned = 0;
    this.responses = {};
    this.timeline = timeline ? [] : null;
    this.inFlight = 0;
  }

  post(body) {
    return new Promise((resolve) => {
      const url = new URL('/webhooks/1688', this.baseUrl());
      const started = performance.now();
      const request = http.request(
        {
          agent: this.agent,
          method: 'POST',
          hostname: url.hostname,
          port: url.port,
          path: url.pathname,
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
        },
        (response) => {
          response.resume();
          response.once('end', () => resolve({ status: String(response.statusCode), started, ended: performance.now() }));
          response.once('error', (error) => resolve({ status: error.code ?? 'ERESPONSE', started, ended: performance.now() }));
        },
      );
      request.setTimeout(this.timeoutMs, () => request.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      request.once('error', (error) => resolve({ status: error.code ?? 'ERROR', started, ended: performance.now() }));
      request.end(body);
    });
  }

  async deliver(delivery, slots, signal) {
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) {
        this.abandoned += 1;
        slots.release();
        return;
      }
      this.requests += 1;
      this.inFlight += 1;
      const answer = await this.post(delivery.body);
      this.inFlight -= 1;
      this.responses[answer.status] = (this.responses[answer.status] ?? 0) + 1;
      this.timeline?.push({ t0: answer.started, t1: answer.ended, status: answer.status });
      if (answer.status.startsWith('2')) {
        this.acked.add(delivery.msgId);
        slots.release();
        return;
      }
      if (attempt >= this.attempts) {
        this.failed.push({ msgId: delivery.msgId, lastAnswer: answer.status });
        slots.release();
        return;
      }
      // No slot held while waiting to re-send.
      slots.release();
      this.retries += 1;
      const gap = Math.min(this.maxGapMs, this.retryBaseMs * 2 ** (attempt - 1)) * (0.8 + Math.random() * 0.4);
      try {
        await sleep(gap, signal);
      } catch {
        this.abandoned += 1;
        return;
      }
      await slots.acquire();
    }
  }

  /** Plays `deliveries` at `ratePerSec` (0 = as fast as concurrency allows); resolves when every delivery is settled. */
  async run(deliveries, { ratePerSec = 0, signal } = {}) {
    const slots = new Semaphore(this.concurrency);
    const tasks = [];
    const start = performance.now();
    for (let i = 0; i < deliveries.length; i++) {
      if (signal?.aborted) break;
      if (ratePerSec > 0) {
        const due = start + (i * 1000) / ratePerSec;
        const wait = due - performance.now();
        if (wait > 1) {
          try {
            await sleep(wait, signal);
          } catch {
            break;
          }
        }
      }
      await slots.acquire();
      const delivery = deliveries[i];
      this.deliveries += 1;
      this.sentIds.add(delivery.msgId);
      tasks.push(this.deliver(delivery, slots, signal));
    }
    await Promise.all(tasks);
    this.elapsedMs = performance.now() - start;
    this.agent.destroy();
    return this;
  }

  responsesText() {
    return Object.entries(this.responses)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k}: ${fmt(v)}`)
      .join(', ');
  }
}

// ---------------------------------------------------------------------------------------------
// Orders

/** Creates orders through POST /orders/batch, re-sending a batch (same ids, same payloads) until it is answered 200. */
export async function createOrders(ctx, { baseUrl, ids, batchSize = 100, gapMs = 0 }) {
  let created = 0;
  let existing = 0;
  let retries = 0;
  for (let i = 0; i < ids.length; i += batchSize) {
    const orders = ids.slice(i, i + batchSize).map((id) => ({ id, payload: { sku: `SKU-${id}`, quantity: 1 + (id.length % 5) } }));
    for (let attempt = 1; ; attempt++) {
      ctx.throwIfAborted();
      let answer;
      try {
        answer = await httpJson('POST', `${baseUrl()}/orders/batch`, { body: { orders }, key: API_KEY, timeoutMs: 10_000 });
      } catch (error) {
        answer = { status: error.cause?.code ?? error.name };
      }
      if (answer.status === 200) {
        created += answer.body.created;
        existing += answer.body.existing;
        if (answer.body.conflicts > 0) throw new Error(`POST /orders/batch answered ${answer.body.conflicts} conflicts for a re-send of the same orders`);
        break;
      }
      if (attempt >= 60) throw new Error(`POST /orders/batch never answered 200 (last: ${answer.status})`);
      retries += 1;
      await ctx.sleep(Math.min(2_000, 100 * attempt));
    }
    if (gapMs > 0 && i + batchSize < ids.length) await ctx.sleep(gapMs);
  }
  return { created, existing, retries };
}

// ---------------------------------------------------------------------------------------------
// Samplers

/** Polls fn every intervalMs in the background until stopped; keeps each sample with its time (performance.now()). */
export function sampler(ctx, intervalMs, fn) {
  const samples = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped && !ctx.signal.aborted) {
      const t = performance.now();
      try {
        samples.push({ t, value: await fn() });
      } catch (error) {
        samples.push({ t, error: error.message ?? String(error) });
      }
      await sleep(intervalMs).catch(() => undefined);
    }
  })();
  return {
    samples,
    async stop() {
      stopped = true;
      await loop;
      return samples;
    },
  };
}

export async function readiness(baseUrl) {
  const answer = await httpJson('GET', `${baseUrl}/health/ready`, { timeoutMs: 3_000 });
  const down = answer.body?.error ? Object.keys(answer.body.error) : [];
  return { status: answer.status, down };
}

export async function queueDepths(baseUrl) {
  const answer = await httpJson('GET', `${baseUrl}/queues`, { timeoutMs: 3_000 });
  if (answer.status !== 200) throw new Error(`/queues answered ${answer.status}`);
  return Object.fromEntries(answer.body.queues.map((q) => [q.name, q]));
}

// ---------------------------------------------------------------------------------------------
// Verification

/**
 * Waits until every acknowledged msgId is in inbox_messages; returns how long it took, or null
 * on timeout or as soon as the order-events queue has been idle (nothing waiting, active or
 * delayed) for a few seconds with messages still missing: then nothing is going to apply them.
 */
export async function waitApplied(ctx, acked, timeoutMs, baseUrl) {
  const ids = [...acked];
  const t0 = performance.now();
  let idle = 0;
  let missing = ids.length;
  const done = await ctx.waitFor(
    async () => {
      const { rows } = await ctx.db().query(`SELECT count(*)::int AS n FROM inbox_messages WHERE source = '1688' AND message_id = ANY($1::text[])`, [ids]);
      missing = ids.length - rows[0].n;
      if (missing === 0) return true;
      const q = (await queueDepths(baseUrl()))['order-events'];
      idle = q.waiting + q.active + q.delayed === 0 ? idle + 1 : 0;
      if (idle >= 6) return 'idle';
      return false;
    },
    { timeoutMs, intervalMs: 500 },
  );
  if (done === 'idle') ctx.log(`order-events is idle but ${fmt(missing)} acknowledged messages are not applied: giving up waiting`);
  else if (done === null) ctx.log(`${fmt(missing)} acknowledged messages still not applied after ${timeoutMs / 1000} s`);
  return done === true ? performance.now() - t0 : null;
}

/** Waits until no order is PENDING or PROCESSING and the work queues are idle. */
export async function waitSettled(ctx, baseUrl, orderIds, timeoutMs) {
  const t0 = performance.now();
  const done = await ctx.waitFor(
    async () => {
      const { rows } = await ctx.db().query(`SELECT count(*)::int AS n FROM orders WHERE id = ANY($1::text[]) AND status IN ('PENDING', 'PROCESSING')`, [orderIds]);
      if (rows[0].n > 0) return false;
      const q = await queueDepths(baseUrl());
      return ['order-events', 'order-dispatch', 'dispatch-results'].every((name) => q[name].waiting + q[name].active + q[name].delayed === 0);
    },
    { timeoutMs, intervalMs: 500 },
  );
  return done ? performance.now() - t0 : null;
}

/**
 * The checks every scenario makes: acknowledged pushes applied (lost = 2xx but not applied),
 * no message applied twice, the right 1688 status on every supplier order, our orders
 * COMPLETED with exactly one side effect each at the supplier, nothing PROCESSING, nothing
 * failed or dead-lettered.
 */
export async function verifyCommon(ctx, { sender, pushes, orderIds, supplier, baseUrl }) {
  const db = ctx.db();
  // Messages
  const { rows: inboxRows } = await db.query(`SELECT message_id FROM inbox_messages WHERE source = '1688'`);
  const inbox = new Set(inboxRows.map((r) => r.message_id));
  const acked = [...sender.acked];
  const lostIds = acked.filter((id) => !inbox.has(id));
  const { rows: dupRows } = await db.query(
    `SELECT count(*)::int AS n FROM (SELECT 1 FROM order_events WHERE kind = 'supplier_message' GROUP BY source, message_id HAVING count(*) > 1) d`,
  );
  const duplicateApplications = dupRows[0].n;
  ctx.figure('messages sent (distinct msgIds)', sender.sentIds.size);
  ctx.figure('deliveries / HTTP requests (with re-sends)', `${fmt(sender.deliveries)} / ${fmt(sender.requests)}`);
  ctx.figure('messages acknowledged (2xx)', acked.length);
  ctx.figure('acknowledged messages applied', acked.length - lostIds.length);
  ctx.figure('**lost** (2xx, never applied)', lostIds.length);
  ctx.figure('never acknowledged (sender gave up)', sender.failed.length + sender.abandoned);
  ctx.figure('messages applied in total (inbox rows)', inbox.size);
  ctx.figure('messages applied twice', duplicateApplications);
  ctx.figure('answers seen by the sender', sender.responsesText());
  if (lostIds.length > 0) {
    const where = await describeJobs(ctx, lostIds.slice(0, 5));
    ctx.figure('where the lost messages are (BullMQ job state)', where);
    ctx.log(`lost messages in Redis: ${where}`);
  }
  ctx.check('every push answered 2xx is in inbox_messages (lost = 0)', lostIds.length === 0, `${fmt(acked.length - lostIds.length)}/${fmt(acked.length)} applied${lostIds.length ? `; missing e.g. ${lostIds.slice(0, 5).join(', ')}` : ''}`);
  ctx.check('the sender gave up on no push (every push was eventually answered 2xx)', sender.failed.length + sender.abandoned === 0, sender.failed.length ? `e.g. ${JSON.stringify(sender.failed.slice(0, 3))}` : `${fmt(sender.retries)} re-sends`);
  ctx.check('no message applied twice (one supplier_message event per msgId)', duplicateApplications === 0, `${duplicateApplications} duplicated`);

  // The newest applied 1688 status on every supplier order (msgSendTime, then gmtBorn).
  const newest = new Map();
  for (const d of pushes.deliveries) {
    if (!inbox.has(d.msgId)) continue;
    const best = newest.get(d.orderId);
    if (!best || d.eventTime > best.eventTime || (d.eventTime === best.eventTime && d.gmtBorn > best.gmtBorn)) newest.set(d.orderId, d);
  }
  const { rows: statusRows } = await db.query(`SELECT supplier_order_id, supplier_status FROM orders WHERE supplier_order_id = ANY($1::text[])`, [[...newest.keys()]]);
  const actual = new Map(statusRows.map((r) => [r.supplier_order_id, r.supplier_status]));
  const wrong = [...newest.entries()].filter(([id, d]) => actual.get(id) !== d.status);
  ctx.check(
    'every supplier order shows the status of its newest applied message (no older message overwrote a newer one)',
    wrong.length === 0,
    `${fmt(newest.size - wrong.length)}/${fmt(newest.size)} supplier orders${wrong.length ? `; e.g. ${wrong.slice(0, 3).map(([id, d]) => `${id}: ${actual.get(id) ?? 'no order'} ≠ ${d.status}`).join(', ')}` : ''}`,
  );

  // Orders and side effects
  if (orderIds.length > 0) {
    const { rows } = await db.query(`SELECT status, count(*)::int AS n FROM orders WHERE id = ANY($1::text[]) GROUP BY status`, [orderIds]);
    const byStatus = Object.fromEntries(rows.map((r) => [r.status, r.n]));
    const stats = await supplier.stats({ keys: true });
    const perKey = stats.perKey ?? {};
    const ours = new Set(orderIds);
    const notOnce = orderIds.filter((id) => (perKey[id]?.sideEffects ?? 0) !== 1);
    const foreignKeys = Object.keys(perKey).filter((k) => !ours.has(k));
    const concurrent = orderIds.filter((id) => (perKey[id]?.maxConcurrent ?? 0) > 1);
    const { rows: processing } = await db.query(`SELECT count(*)::int AS n FROM orders WHERE status = 'PROCESSING'`);
    const { rows: external } = await db.query(`SELECT count(*)::int AS n FROM orders WHERE status = 'EXTERNAL'`);
    ctx.figure('orders created', orderIds.length);
    ctx.figure('orders by status', Object.entries(byStatus).map(([k, v]) => `${k} ${fmt(v)}`).join(', '));
    ctx.figure('side effects at the supplier (calls)', `${fmt(stats.sideEffects)} (${fmt(stats.calls)})`);
    ctx.figure('**duplicate side effects**', stats.duplicateSideEffects);
    ctx.figure('EXTERNAL orders (1688 messages for unlinked supplier orders)', external[0].n);
    ctx.check('every order ended COMPLETED', (byStatus.COMPLETED ?? 0) === orderIds.length, Object.entries(byStatus).map(([k, v]) => `${k} ${v}`).join(', '));
    ctx.check('nothing left PROCESSING', processing[0].n === 0, `${processing[0].n} PROCESSING`);
    ctx.check(
      'exactly one side effect per order at the supplier, duplicateSideEffects = 0',
      notOnce.length === 0 && stats.duplicateSideEffects === 0 && foreignKeys.length === 0,
      `${fmt(stats.sideEffects)} side effects for ${fmt(orderIds.length)} orders, duplicateSideEffects ${stats.duplicateSideEffects}${notOnce.length ? `; not once: ${notOnce.slice(0, 5).map((id) => `${id}=${perKey[id]?.sideEffects ?? 0}`).join(', ')}` : ''}${foreignKeys.length ? `; unknown keys ${foreignKeys.slice(0, 3).join(', ')}` : ''}`,
    );
    ctx.check('never two calls in flight for one order', concurrent.length === 0, concurrent.length ? `e.g. ${concurrent.slice(0, 5).join(', ')}` : '');
  }

  // Queues: failed jobs and dead letters
  const q = await queueDepths(baseUrl());
  const failed = ['order-events', 'order-dispatch', 'dispatch-results'].map((name) => [name, q[name].failed, q[name].deadLettered]);
  const deadLettered = failed.reduce((sum, [, , d]) => sum + d, 0);
  const failedJobs = failed.reduce((sum, [, f]) => sum + f, 0);
  let reasons = '';
  if (deadLettered > 0) {
    for (const [name, , d] of failed) {
      if (d === 0) continue;
      // Distinct reasons (database names blanked) with their counts, from the first 1,000.
      const list = await httpJson('GET', `${baseUrl()}/queues/${name}/dead-letters?limit=1000`, { key: API_KEY, timeoutMs: 15_000 });
      const counts = new Map();
      for (const item of list.body?.items ?? []) {
        const reason = String(item.failedReason).replaceAll(ctx.databaseName, '<db>');
        counts.set(reason, (counts.get(reason) ?? 0) + 1);
      }
      reasons += `; ${name} dead letters: ${[...counts].map(([reason, n]) => `${n} × "${reason}"`).join(', ')}`;
    }
  }
  ctx.figure('dead-lettered / failed jobs', `${deadLettered} / ${failedJobs}`);
  let stalledOut = '';
  if (failedJobs > deadLettered) {
    // Failed jobs that are not dead letters never went through process(): say why they failed.
    const redis = new Redis(ctx.redisUrl, { maxRetriesPerRequest: 1, retryStrategy: () => null });
    redis.on('error', () => {});
    try {
      const counts = new Map();
      for (const [name] of failed) {
        const ids = await redis.zrange(`${ctx.queuePrefix}:${name}:failed`, 0, 999);
        for (const id of ids) {
          const reason = String((await redis.hget(`${ctx.queuePrefix}:${name}:${id}`, 'failedReason')) ?? '').replaceAll(ctx.databaseName, '<db>');
          const key = `${name}: ${reason}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
      }
      stalledOut = `; failed jobs by reason: ${[...counts].map(([reason, n]) => `${n} × "${reason}"`).join(', ')}`;
    } catch (error) {
      stalledOut = `; (could not read failed jobs: ${error.message})`;
    } finally {
      redis.disconnect();
    }
  }
  ctx.check('nothing dead-lettered, no failed job in any queue', deadLettered === 0 && failedJobs === 0, failed.map(([n, f, d]) => `${n} failed ${f} dead ${d}`).join(', ') + reasons + stalledOut);
  return { lost: lostIds.length, inbox };
}

/** Where the order-events jobs of these msgIds are in Redis: state, attempts, stalls, failure. */
export async function describeJobs(ctx, msgIds) {
  const redis = new Redis(ctx.redisUrl, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    const q = `${ctx.queuePrefix}:order-events`;
    const parts = [];
    for (const msgId of msgIds) {
      const id = `1688-${encodeURIComponent(msgId)}`;
      const job = await redis.hgetall(`${q}:${id}`);
      const lock = await redis.exists(`${q}:${id}:lock`);
      const state = [];
      if ((await redis.lpos(`${q}:wait`, id)) !== null) state.push('wait');
      if ((await redis.lpos(`${q}:active`, id)) !== null) state.push('active');
      if ((await redis.lpos(`${q}:paused`, id)) !== null) state.push('paused');
      if ((await redis.zscore(`${q}:delayed`, id)) !== null) state.push('delayed');
      if ((await redis.zscore(`${q}:prioritized`, id)) !== null) state.push('prioritized');
      if ((await redis.zscore(`${q}:completed`, id)) !== null) state.push('completed');
      if ((await redis.zscore(`${q}:failed`, id)) !== null) state.push('failed');
      if ((await redis.sismember(`${q}:stalled`, id)) === 1) state.push('in stalled set');
      if (Object.keys(job).length === 0) {
        parts.push(`${msgId}: no job hash in Redis${state.length ? ` (listed in ${state.join('+')})` : ''}`);
        continue;
      }
      const at = (ms) => (ms ? new Date(Number(ms)).toISOString().slice(11, 23) : '-');
      parts.push(
        `${msgId}: ${state.join('+') || 'in no list'}, lock ${lock ? 'held' : 'none'}, added ${at(job.timestamp)}, processedOn ${at(job.processedOn)}, finishedOn ${at(job.finishedOn)}, attemptsMade ${job.atm ?? job.attemptsMade ?? 0}, attemptsStarted ${job.ats ?? 0}, stalls ${job.stc ?? 0}${job.failedReason ? `, failedReason "${job.failedReason}"` : ''}${job.returnvalue ? `, returned ${job.returnvalue}` : ''}`,
      );
    }
    return parts.join('; ');
  } catch (error) {
    return `(could not read Redis: ${error.message})`;
  } finally {
    redis.disconnect();
  }
}

/** Records process crashes (exits the suite did not cause) as a failed check. */
export function checkNoCrash(ctx) {
  ctx.figure('service processes that exited on their own (restarted)', ctx.crashes.length);
  ctx.check('no service process exited on its own', ctx.crashes.length === 0, ctx.crashes.join('; '));
}

// ---------------------------------------------------------------------------------------------
// Settings shared by the scenarios

/** The fake supplier: small latency, a rate limit, a few 503s and lost answers (after the side effect). */
export const SUPPLIER_OPTIONS = { latencyMs: 20, latencyJitterMs: 10, rateLimit: 300, error5xx: 0.02, closeConnection: 0.01, seed: 20261129 };

/** Dispatch tuned for a short run: short locks and leases so crashed work is taken over in seconds. */
export function dispatchEnv(supplier, extra = {}) {
  return {
    EXTERNAL_API_URL: supplier.url,
    EXTERNAL_API_RATE_LIMIT: '200',
    EXTERNAL_API_TIMEOUT_MS: '2000',
    DISPATCH_LOCK_MS: '5000',
    DISPATCH_LEASE_MS: '5000',
    DISPATCH_RECOVERY_INTERVAL_MS: '1000',
    DISPATCH_CRON: '*/5 * * * * *',
    DISPATCH_MAX_ATTEMPTS: '20',
    DISPATCH_CONCURRENCY: '20',
    DATABASE_POOL_MAX: '5',
    ...extra,
  };
}

/** Starts the API on a fixed port (so a restart keeps the address) and `workers` worker processes. */
export async function startFleet(ctx, env, { workers = 2, apiEnv = {} } = {}) {
  const api = await ctx.startService({ label: 'api', role: 'api', port: await freePort(), env: { ...env, ...apiEnv } });
  const list = await Promise.all(Array.from({ length: workers }, (_, i) => ctx.startService({ label: `worker-${i + 1}`, role: 'worker', env })));
  ctx.did(`started the fake supplier API, ordersync api (port ${api.port}) and ${workers} worker process${workers > 1 ? 'es' : ''} on database ${ctx.databaseName}, queue prefix ${ctx.queuePrefix}`);
  return { api, workers: list };
}

export function orderIds(prefix, n) {
  return Array.from({ length: n }, (_, i) => `${prefix}-${String(i + 1).padStart(6, '0')}`);
}
