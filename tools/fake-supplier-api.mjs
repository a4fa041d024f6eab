#!/usr/bin/env node
// @ts-check
// Fake supplier order API for tests, the demo and benchmarks. Plain Node ESM, `node:` built-ins
// only, no build step. Types: tools/fake-supplier-api.types.d.mts (re-exported here).
//
//   node tools/fake-supplier-api.mjs --port 0 --latency-ms 50 --rate-limit 500 --error-5xx 0.05
//   -> first stdout line: "fake-supplier-api listening on <port>"
//
// Orders: POST /orders or POST / with JSON {"orderId": string, "payload": object|null} and an
// Idempotency-Key header (Stripe-like semantics):
//   - the first call with a key performs the side effect (creates a supplier order with a new
//     18-digit supplierOrderId, returned as a string) and stores the answer:
//     201 {"supplierOrderId","orderId","status":"accepted"};
//   - later calls with that key get the stored status and body (header Idempotent-Replayed: true);
//   - a call while the first is still unanswered gets 409 {"error":"request with this key in flight"};
//   - the same key with a different body (compared after parsing, key order ignored) gets 422;
//   - no key, a body that is not a JSON object, or no orderId string gets 400.
//
// Rate limit (`rateLimit` calls/s, 0 = none): a token bucket whose capacity is one second's worth
// (max(1, rateLimit) tokens), full at start, refilled continuously. So a client steady at the
// limit never sees a 429, but a burst can get up to 2x the limit through in its first second.
// Over the limit: 429 with Retry-After (whole seconds, >= 1), counted in rejectedForRate; it is
// answered at once (no latency), before the body is read and without using a script answer.
//
// Fault injection (probabilities, sum <= 1, one PRNG draw per call, mulberry32 seeded by `seed`):
//   error5xx        503, no side effect          error429  429 + Retry-After (retryAfterSec)
//   timeout         never answered, held open    final4xx  422, stored as the key's answer
//   garbage         side effect, stored 201, but this answer is 200 with an unparsable body
//   closeConnection socket destroyed without an answer; half before any side effect, half
//                   after it (a lost answer: the retry gets the stored 201)
// 503/429/timeout/close-before act like a gateway in front of the idempotency layer (they hit
// replays too and never change the key's state); final4xx only matters for a key's first
// executing call; garbage/close-after sit between the idempotency layer and the client.
// POST /_script {"orderId": "...", "answers": ["503","429:2","422","201","timeout","close",
// "close-before","garbage"]} forces the outcomes of the next calls for that order id (or
// Idempotency-Key), one per call that gets past the rate limit and validation; then back to
// random. "201" = no fault; any 5xx status works like "503"; "close" = after the side effect.
//
// Latency: each answer (not rate-limit 429s or 400s) waits latencyMs +/- uniform latencyJitterMs.
// The first call's key stays "in flight" for that time.
//
// Control: GET /_stats[?keys=1], GET /_stats/keys/<key>, GET|POST /_config (JSON merge),
// POST /_script, POST /_reset (state, counters, scripts; config stays; ids never repeat within a
// process), GET /_health.
// Stats: calls (order calls received, rejected ones included), sideEffects, rejectedForRate,
// inFlight, maxInFlight, held, duplicateSideEffects (keys or order ids that got more than one
// side effect; must stay 0: an order sent under two keys shows here), maxCallsPerSecond (most calls
// in any sliding 1 s window, exact), replays, conflicts (409), mismatches (422 key reuse),
// badRequests, answers by outcome, keys, perKey {calls, sideEffects, concurrent, maxConcurrent}.
//
// No log line per request; one summary line on exit. SIGTERM/SIGINT: stop accepting, destroy held
// "timeout" requests, let delayed answers go out (grace 2 s), exit 0.

import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from './lib/harness-prng.mjs';

/**
 * @typedef {import('./fake-supplier-api.types.mjs').FakeSupplierConfig} FakeSupplierConfig
 * @typedef {import('./fake-supplier-api.types.mjs').FakeSupplierOptions} FakeSupplierOptions
 * @typedef {import('./fake-supplier-api.types.mjs').FakeSupplierConfigChanges} FakeSupplierConfigChanges
 * @typedef {import('./fake-supplier-api.types.mjs').FakeSupplierAnswer} FakeSupplierAnswer
 * @typedef {import('./fake-supplier-api.types.mjs').FakeSupplierKeyCounters} FakeSupplierKeyCounters
 * @typedef {import('./fake-supplier-api.types.mjs').FakeSupplierStats} FakeSupplierStats
 * @typedef {import('./fake-supplier-api.types.mjs').FakeSupplierKeyStats} FakeSupplierKeyStats
 * @typedef {import('./fake-supplier-api.types.mjs').FakeSupplierScriptResult} FakeSupplierScriptResult
 * @typedef {import('./fake-supplier-api.types.mjs').FakeSupplierApi} FakeSupplierApi
 * @typedef {import('./fake-supplier-api.types.mjs').FakeSupplierExit} FakeSupplierExit
 * @typedef {import('./fake-supplier-api.types.mjs').SpawnedFakeSupplierApi} SpawnedFakeSupplierApi
 * @typedef {import('./fake-supplier-api.types.mjs').SpawnFakeSupplierOptions} SpawnFakeSupplierOptions
 * @typedef {import('node:http').IncomingMessage} IncomingMessage
 * @typedef {import('node:http').ServerResponse} ServerResponse
 * @typedef {import('node:net').Socket} Socket
 */

/**
 * What a call gets: a scripted or random outcome.
 * @typedef {{ kind: string; label: string; status?: number; retryAfter?: number | null }} Outcome
 * @typedef {{ fingerprint: string; state: 'inflight' | 'done'; status: number; body: string }} KeyRecord
 * @typedef {FakeSupplierKeyCounters & { record: KeyRecord | null }} KeyEntry
 * @typedef {keyof FakeSupplierConfig} OptionName
 * @typedef {{ kind: string; min?: number; max?: number; runtime: boolean; flag: string; env: string }} OptionSpec
 */

const SELF = fileURLToPath(import.meta.url);
const LISTENING = 'fake-supplier-api listening on';
const DEFAULT_ID_BASE = '167539019420540000';
// Long enough for any order id ordersync accepts, percent-encoded (128 characters of 4 bytes, 3 per byte).
const MAX_KEY_LENGTH = 2_048;

// ---------------------------------------------------------------------------------------------
// Options

/**
 * kind: int | number | prob | string | idBase; runtime: may change through configure().
 * @type {Record<OptionName, OptionSpec>}
 */
const SPEC = {
  port: { kind: 'int', min: 0, max: 65535, runtime: false, flag: 'port', env: 'PORT' },
  host: { kind: 'string', runtime: false, flag: 'host', env: 'HOST' },
  latencyMs: { kind: 'number', min: 0, max: 3_600_000, runtime: true, flag: 'latency-ms', env: 'LATENCY_MS' },
  latencyJitterMs: { kind: 'number', min: 0, max: 3_600_000, runtime: true, flag: 'latency-jitter-ms', env: 'LATENCY_JITTER_MS' },
  rateLimit: { kind: 'number', min: 0, max: 10_000_000, runtime: true, flag: 'rate-limit', env: 'RATE_LIMIT' },
  retryAfterSec: { kind: 'int', min: 1, max: 86_400, runtime: true, flag: 'retry-after-sec', env: 'RETRY_AFTER_SEC' },
  error5xx: { kind: 'prob', runtime: true, flag: 'error-5xx', env: 'ERROR_5XX' },
  error429: { kind: 'prob', runtime: true, flag: 'error-429', env: 'ERROR_429' },
  timeout: { kind: 'prob', runtime: true, flag: 'timeout', env: 'TIMEOUT' },
  final4xx: { kind: 'prob', runtime: true, flag: 'final-4xx', env: 'FINAL_4XX' },
  garbage: { kind: 'prob', runtime: true, flag: 'garbage', env: 'GARBAGE' },
  closeConnection: { kind: 'prob', runtime: true, flag: 'close-connection', env: 'CLOSE_CONNECTION' },
  seed: { kind: 'int', min: 0, max: 0xffffffff, runtime: true, flag: 'seed', env: 'SEED' },
  idBase: { kind: 'idBase', runtime: true, flag: 'id-base', env: 'ID_BASE' },
  maxBodyBytes: { kind: 'int', min: 1, max: 1 << 30, runtime: true, flag: 'max-body-bytes', env: 'MAX_BODY_BYTES' },
};
const ENV_PREFIX = 'FAKE_SUPPLIER_';
/** @type {Array<'error5xx' | 'error429' | 'timeout' | 'final4xx' | 'garbage' | 'closeConnection'>} */
const FAULTS = ['error5xx', 'error429', 'timeout', 'final4xx', 'garbage', 'closeConnection'];

/** @returns {FakeSupplierConfig} */
function defaults() {
  return {
    port: 0,
    host: '127.0.0.1',
    latencyMs: 0,
    latencyJitterMs: 0,
    rateLimit: 0,
    retryAfterSec: 1,
    error5xx: 0,
    error429: 0,
    timeout: 0,
    final4xx: 0,
    garbage: 0,
    closeConnection: 0,
    seed: (Date.now() ^ (process.pid << 16)) >>> 0,
    idBase: DEFAULT_ID_BASE,
    maxBodyBytes: 1 << 20,
  };
}

/**
 * @param {string} name
 * @param {unknown} value
 * @returns {string | number}
 */
function coerce(name, value) {
  const spec = Object.hasOwn(SPEC, name) ? SPEC[/** @type {OptionName} */ (name)] : undefined;
  if (!spec) throw new Error(`unknown option "${name}"`);
  if (spec.kind === 'string') {
    if (typeof value !== 'string' || value === '') throw new Error(`${name} must be a non-empty string`);
    return value;
  }
  if (spec.kind === 'idBase') {
    const text = typeof value === 'bigint' || typeof value === 'number' ? String(value) : value;
    if (typeof text !== 'string' || !/^[1-9]\d{0,17}$/.test(text))
      throw new Error(`${name} must be a positive integer of at most 18 digits`);
    return text;
  }
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new Error(`${name} must be a number`);
  if (spec.kind === 'prob') {
    if (n < 0 || n > 1) throw new Error(`${name} must be a probability between 0 and 1`);
    return n;
  }
  if (spec.kind === 'int' && !Number.isInteger(n)) throw new Error(`${name} must be an integer`);
  if (n < (spec.min ?? -Infinity) || n > (spec.max ?? Infinity)) throw new Error(`${name} must be between ${spec.min} and ${spec.max}`);
  return n;
}

/**
 * Validates `changes` on top of `base`; returns the merged config or throws.
 * @param {FakeSupplierConfig} base
 * @param {unknown} changes
 * @param {{ runtime: boolean }} mode
 * @returns {FakeSupplierConfig}
 */
function mergeConfig(base, changes, { runtime }) {
  if (changes === null || typeof changes !== 'object' || Array.isArray(changes)) throw new Error('config must be a JSON object');
  /** @type {Record<string, unknown>} */
  const next = { ...base };
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) continue;
    if (!Object.hasOwn(SPEC, name)) throw new Error(`unknown option "${name}"`);
    const option = /** @type {OptionName} */ (name);
    if (runtime && !SPEC[option].runtime) {
      if (value === base[option] || (name === 'port' && value === 0)) continue;
      throw new Error(`${name} cannot change at runtime`);
    }
    next[name] = coerce(name, value);
  }
  const merged = /** @type {FakeSupplierConfig} */ (/** @type {unknown} */ (next));
  const sum = FAULTS.reduce((total, name) => total + merged[name], 0);
  if (sum > 1 + 1e-9) throw new Error(`fault probabilities add up to ${sum}, more than 1`);
  return merged;
}

/**
 * The options of the fake itself, without helpers' own (startTimeoutMs, env).
 * @param {object | undefined} options
 * @returns {Record<string, unknown>}
 */
function pickOptions(options) {
  const given = /** @type {Record<string, unknown>} */ (options ?? {});
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const name of Object.keys(SPEC)) if (given[name] !== undefined) out[name] = given[name];
  return out;
}

const USAGE = `usage: node tools/fake-supplier-api.mjs [flags]
  --port N              (default 4000 from the CLI; 0 = random)   --host H (default 127.0.0.1)
  --latency-ms N        mean latency      --latency-jitter-ms N   +/- uniform jitter
  --rate-limit N        calls/s, 0 = none (token bucket, capacity one second's worth)
  --retry-after-sec N   Retry-After of injected 429s (default 1)
  --error-5xx P --error-429 P --timeout P --final-4xx P --garbage P --close-connection P
                        fault probabilities (0..1, sum <= 1)
  --seed N              PRNG seed (uint32) so runs replay     --id-base N  first supplierOrderId - 1
  --max-body-bytes N    (default 1048576)                     --exit-on-stdin-end  stop when stdin ends
Every flag also reads FAKE_SUPPLIER_<NAME> from the environment (e.g. FAKE_SUPPLIER_RATE_LIMIT=500);
flags win. Prints "${LISTENING} <port>" first, then nothing until one summary line on exit.`;

/**
 * Parses CLI flags (--name value or --name=value) over FAKE_SUPPLIER_* environment variables.
 * @param {string[]} argv
 * @param {Record<string, string | undefined>} [env]
 * @returns {{ options: FakeSupplierConfig; exitOnStdinEnd: boolean; help: boolean }}
 */
export function parseCliArgs(argv, env = process.env) {
  const byFlag = new Map(Object.entries(SPEC).map(([name, spec]) => [spec.flag, name]));
  /** @type {Record<string, unknown>} */
  const options = { port: 4000 };
  for (const [name, spec] of Object.entries(SPEC)) {
    const value = env[ENV_PREFIX + spec.env];
    if (value !== undefined && value !== '') options[name] = value;
  }
  let exitOnStdinEnd = false;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const flag = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    if (flag === 'exit-on-stdin-end') exitOnStdinEnd = true;
    else if (flag === 'help') help = true;
    else {
      const name = byFlag.get(flag);
      if (!name) throw new Error(`unknown flag --${flag}`);
      let value;
      if (eq >= 0) value = arg.slice(eq + 1);
      else if (i + 1 < argv.length) value = argv[++i];
      else throw new Error(`--${flag} needs a value`);
      options[name] = value;
    }
  }
  return { options: mergeConfig(defaults(), options, { runtime: false }), exitOnStdinEnd, help };
}

/**
 * @param {object} options
 * @returns {string[]}
 */
function toCliArgs(options) {
  /** @type {string[]} */
  const args = [];
  for (const [name, value] of Object.entries(pickOptions(options)))
    args.push(`--${SPEC[/** @type {OptionName} */ (name)].flag}`, String(value));
  return args;
}

// ---------------------------------------------------------------------------------------------
// Answers (scripts and random faults)

/**
 * Turns "503", "429:2", "201", "timeout", ... into an outcome; throws on anything else.
 * @param {unknown} text
 * @param {FakeSupplierConfig} config
 * @returns {Outcome}
 */
function parseAnswer(text, config) {
  if (typeof text !== 'string') throw new Error('answers must be strings');
  const s = text.trim().toLowerCase();
  if (s === '201' || s === '200' || s === 'ok') return { kind: 'ok', label: '201' };
  if (s === '422') return { kind: '422', label: '422' };
  if (s === 'timeout' || s === 'close' || s === 'close-before' || s === 'garbage') return { kind: s, label: s };
  if (s === 'close-after') return { kind: 'close', label: 'close' };
  let m = /^429(?::(\d+))?$/.exec(s);
  if (m) {
    const retryAfter = m[1] === undefined ? config.retryAfterSec : Math.max(1, Number(m[1]));
    return { kind: '429', retryAfter, label: `429:${retryAfter}` };
  }
  m = /^(5\d\d)(?::(\d+))?$/.exec(s);
  if (m) return { kind: 'error', status: Number(m[1]), retryAfter: m[2] === undefined ? null : Number(m[2]), label: s };
  throw new Error(
    `unknown answer "${text}" (use 201, 422, 429[:seconds], 5xx[:retry-after seconds], timeout, close, close-before, garbage)`,
  );
}

/**
 * Stable fingerprint of a parsed body: JSON with object keys sorted.
 * @param {unknown} value
 * @returns {string}
 */
function canonical(value) {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const record = /** @type {Record<string, unknown>} */ (value);
  const keys = Object.keys(record).sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) out += `${i ? ',' : ''}${JSON.stringify(keys[i])}:${canonical(record[keys[i]])}`;
  return `${out}}`;
}

/**
 * @param {unknown} v
 * @returns {v is Record<string, any>}
 */
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

// ---------------------------------------------------------------------------------------------
// The fake itself (transport-independent core plus a node:http request handler)

function newState() {
  return {
    calls: 0,
    sideEffects: 0,
    rejectedForRate: 0,
    inFlight: 0,
    maxInFlight: 0,
    held: 0,
    duplicateSideEffects: 0,
    replays: 0,
    conflicts: 0,
    mismatches: 0,
    badRequests: 0,
    /** @type {Map<string, number>} */
    answers: new Map(),
    /** @type {Map<string, KeyEntry>} key -> { calls, sideEffects, concurrent, maxConcurrent, record } */
    keys: new Map(),
    /** @type {Map<string, number>} orderId -> side effects */
    orders: new Map(),
    /** @type {Map<string, Outcome[]>} order id or key -> outcomes still to use */
    scripts: new Map(),
    window: { times: new Float64Array(1024), head: 0, size: 0, max: 0 },
  };
}

/**
 * Exact one-second sliding window: a ring buffer of the arrival times of the last second's calls
 * (O(1) amortized per call, 8 bytes per call in the window). `max` is the most calls ever seen in
 * any window (t - 1000 ms, t].
 * @param {State['window']} w
 * @param {number} now
 */
function countWindow(w, now) {
  let { times, head, size } = w;
  let mask = times.length - 1;
  const oldest = now - 1000;
  while (size > 0 && times[head] <= oldest) {
    head = (head + 1) & mask;
    size--;
  }
  if (size === times.length) {
    const bigger = new Float64Array(times.length * 2);
    for (let i = 0; i < size; i++) bigger[i] = times[(head + i) & mask];
    times = bigger;
    head = 0;
    mask = times.length - 1;
    w.times = times;
  }
  times[(head + size) & mask] = now;
  size++;
  w.head = head;
  w.size = size;
  if (size > w.max) w.max = size;
}

/** @typedef {ReturnType<typeof newState>} State */

/** @param {FakeSupplierConfig} initial */
function createCore(initial) {
  let config = initial;
  let state = newState();
  let rng = mulberry32(config.seed);
  let idCounter = 0n;
  const bucket = { tokens: 0, last: 0 };
  const refill = () => {
    bucket.tokens = Math.max(1, config.rateLimit);
    bucket.last = performance.now();
  };
  refill();
  /** @type {Set<Socket>} Sockets of requests held open by "timeout". */
  const heldSockets = new Set();

  /**
   * @param {State} s
   * @param {string} label
   */
  const bump = (s, label) => s.answers.set(label, (s.answers.get(label) ?? 0) + 1);

  /**
   * 0 when a token was taken, else the whole seconds until one is there.
   * @param {number} now
   */
  function takeToken(now) {
    const rate = config.rateLimit;
    if (!rate) return 0;
    const capacity = Math.max(1, rate);
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.last) * rate) / 1000);
    bucket.last = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / rate));
  }

  /**
   * @param {State} s
   * @param {string} key
   * @param {string} orderId
   * @returns {Outcome}
   */
  function nextOutcome(s, key, orderId) {
    let scriptKey = key;
    let queue = s.scripts.get(key);
    if (!queue && orderId !== key) {
      scriptKey = orderId;
      queue = s.scripts.get(orderId);
    }
    const scripted = queue?.shift();
    if (queue && scripted) {
      if (queue.length === 0) s.scripts.delete(scriptKey);
      return scripted;
    }
    const c = config;
    let u = c.error5xx + c.error429 + c.timeout + c.final4xx + c.garbage + c.closeConnection;
    if (u === 0) return OK;
    u = rng();
    if ((u -= c.error5xx) < 0) return E503;
    if ((u -= c.error429) < 0) return { kind: '429', retryAfter: c.retryAfterSec, label: `429:${c.retryAfterSec}` };
    if ((u -= c.timeout) < 0) return TIMEOUT;
    if ((u -= c.final4xx) < 0) return FINAL;
    if ((u -= c.garbage) < 0) return GARBAGE;
    if (u < c.closeConnection) return rng() < 0.5 ? CLOSE_BEFORE : CLOSE_AFTER;
    return OK;
  }

  function latency() {
    const { latencyMs, latencyJitterMs } = config;
    if (!latencyJitterMs) return latencyMs;
    return Math.max(0, latencyMs + (rng() * 2 - 1) * latencyJitterMs);
  }

  /**
   * @param {State} s
   * @param {string} key
   * @returns {KeyEntry}
   */
  function keyEntry(s, key) {
    let e = s.keys.get(key);
    if (!e) {
      e = { calls: 0, sideEffects: 0, concurrent: 0, maxConcurrent: 0, record: null };
      s.keys.set(key, e);
    }
    return e;
  }

  /**
   * @param {State} s
   * @param {KeyEntry} entry
   * @param {string} orderId
   */
  function sideEffect(s, entry, orderId) {
    idCounter += 1n;
    const supplierOrderId = String(BigInt(config.idBase) + idCounter);
    s.sideEffects++;
    if (++entry.sideEffects === 2) s.duplicateSideEffects++;
    const n = (s.orders.get(orderId) ?? 0) + 1;
    s.orders.set(orderId, n);
    if (n === 2 && entry.sideEffects < 2) s.duplicateSideEffects++;
    return supplierOrderId;
  }

  // --- HTTP plumbing -------------------------------------------------------------------------

  /**
   * @param {ServerResponse} res
   * @param {number} status
   * @param {unknown} body
   * @param {Record<string, string>} [headers]
   */
  function send(res, status, body, headers) {
    if (res.destroyed || res.writableEnded) return;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  }

  /**
   * @param {number} ms
   * @param {() => void} fn
   */
  const later = (ms, fn) => {
    if (ms > 0) setTimeout(fn, ms);
    else fn();
  };

  /**
   * @param {IncomingMessage} req
   * @param {number} limit
   * @param {(text: string | null) => void} done
   */
  function readBody(req, limit, done) {
    /** @type {Buffer[]} */
    const chunks = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (/** @type {Buffer} */ chunk) => {
      if (tooBig) return;
      size += chunk.length;
      if (size > limit) {
        tooBig = true;
        done(null);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!tooBig) done((chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString('utf8'));
    });
    req.on('error', () => {}); // the connection died: 'close' on the response does the counting
  }

  /**
   * @param {IncomingMessage} req
   * @param {ServerResponse} res
   */
  function orderCall(req, res) {
    const s = state;
    const now = performance.now();
    s.calls++;
    countWindow(s.window, now);
    if (++s.inFlight > s.maxInFlight) s.maxInFlight = s.inFlight;
    const header = req.headers['idempotency-key'];
    const key = typeof header === 'string' && header !== '' && header.length <= MAX_KEY_LENGTH ? header : undefined;
    /** @type {KeyEntry | undefined} */
    let entry;
    if (key !== undefined) {
      entry = keyEntry(s, key);
      entry.calls++;
      if (++entry.concurrent > entry.maxConcurrent) entry.maxConcurrent = entry.concurrent;
    }
    const socket = req.socket;
    res.once('close', () => {
      s.inFlight--;
      if (entry) entry.concurrent--;
    });

    const wait = takeToken(now);
    if (wait) {
      s.rejectedForRate++;
      bump(s, '429');
      req.resume();
      send(res, 429, { error: 'rate limit exceeded', retryAfter: wait }, { 'retry-after': String(wait) });
      return;
    }

    readBody(req, config.maxBodyBytes, (text) => {
      /**
       * @param {number} status
       * @param {string} error
       */
      const bad = (status, error) => {
        s.badRequests++;
        bump(s, String(status));
        send(res, status, { error });
      };
      if (text === null) return bad(413, 'body too large');
      if (key === undefined || entry === undefined) {
        return bad(400, header ? `Idempotency-Key must be at most ${MAX_KEY_LENGTH} characters` : 'missing Idempotency-Key header');
      }
      /** @type {unknown} */
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        return bad(400, 'body is not valid JSON');
      }
      const keyEntryOfCall = entry;
      if (!isObject(body)) return bad(400, 'body must be a JSON object');
      const { orderId } = body;
      if (typeof orderId !== 'string' || orderId === '') return bad(400, 'orderId must be a non-empty string');
      if (body.payload !== undefined && body.payload !== null && !isObject(body.payload)) return bad(400, 'payload must be a JSON object');

      const outcome = nextOutcome(s, key, orderId);
      if (outcome.kind === 'timeout') {
        bump(s, 'timeout');
        s.held++;
        heldSockets.add(socket);
        res.once('close', () => {
          s.held--;
          heldSockets.delete(socket);
        });
        return;
      }
      const delay = latency();

      // Gateway faults: before the idempotency layer, no side effect, no state change.
      if (outcome.kind === 'error') {
        const status = outcome.status ?? 503;
        return later(delay, () => {
          bump(s, String(status));
          send(
            res,
            status,
            { error: 'service unavailable (injected)' },
            outcome.retryAfter === null || outcome.retryAfter === undefined ? {} : { 'retry-after': String(outcome.retryAfter) },
          );
        });
      }
      if (outcome.kind === '429') {
        return later(delay, () => {
          bump(s, '429');
          send(
            res,
            429,
            { error: 'too many requests (injected)', retryAfter: outcome.retryAfter },
            { 'retry-after': String(outcome.retryAfter) },
          );
        });
      }
      if (outcome.kind === 'close-before') {
        return later(delay, () => {
          bump(s, 'close');
          socket.destroy();
        });
      }

      // Idempotency layer.
      const fingerprint = canonical(body);
      const record = keyEntryOfCall.record;
      if (record) {
        if (record.fingerprint !== fingerprint) {
          s.mismatches++;
          return later(delay, () => {
            bump(s, '422');
            send(res, 422, { error: 'Idempotency-Key reused with a different request body' });
          });
        }
        if (record.state === 'inflight') {
          s.conflicts++;
          return later(delay, () => {
            bump(s, '409');
            send(res, 409, { error: 'request with this key in flight' });
          });
        }
        s.replays++;
        return later(delay, () => deliver(s, res, socket, record, outcome, true));
      }
      /** @type {KeyRecord} */
      const fresh = { fingerprint, state: 'inflight', status: 0, body: '' };
      keyEntryOfCall.record = fresh;
      later(delay, () => {
        if (outcome.kind === '422') {
          fresh.status = 422;
          fresh.body = JSON.stringify({ error: 'order rejected by supplier', orderId, final: true });
        } else {
          const supplierOrderId = sideEffect(s, keyEntryOfCall, orderId);
          fresh.status = 201;
          fresh.body = JSON.stringify({ supplierOrderId, orderId, status: 'accepted' });
        }
        fresh.state = 'done';
        deliver(s, res, socket, fresh, outcome, false);
      });
    });
  }

  /**
   * Sends a key's stored answer, or loses/garbles it (faults after the idempotency layer).
   * @param {State} s
   * @param {ServerResponse} res
   * @param {Socket} socket
   * @param {KeyRecord} record
   * @param {Outcome} outcome
   * @param {boolean} replayed
   */
  function deliver(s, res, socket, record, outcome, replayed) {
    if (outcome.kind === 'close') {
      bump(s, 'close');
      socket.destroy();
      return;
    }
    if (outcome.kind === 'garbage') {
      bump(s, 'garbage');
      const cut = record.body.slice(0, Math.max(1, record.body.length >> 1));
      send(res, 200, `${cut}<html><body>502 Bad Gateway</body></html>`);
      return;
    }
    bump(s, String(record.status));
    send(res, record.status, record.body, replayed ? { 'idempotent-replayed': 'true' } : undefined);
  }

  // --- Control -------------------------------------------------------------------------------

  /**
   * @param {{ keys?: boolean }} [options]
   * @returns {FakeSupplierStats}
   */
  function stats(options = {}) {
    const s = state;
    /** @type {FakeSupplierStats} */
    const out = {
      calls: s.calls,
      sideEffects: s.sideEffects,
      rejectedForRate: s.rejectedForRate,
      inFlight: s.inFlight,
      maxInFlight: s.maxInFlight,
      held: s.held,
      duplicateSideEffects: s.duplicateSideEffects,
      maxCallsPerSecond: s.window.max,
      replays: s.replays,
      conflicts: s.conflicts,
      mismatches: s.mismatches,
      badRequests: s.badRequests,
      answers: Object.fromEntries(s.answers),
      keys: s.keys.size,
    };
    if (options.keys) {
      out.perKey = Object.fromEntries(
        [...s.keys].map(([key, e]) => [
          key,
          { calls: e.calls, sideEffects: e.sideEffects, concurrent: e.concurrent, maxConcurrent: e.maxConcurrent },
        ]),
      );
    }
    return out;
  }

  /**
   * @param {string} key
   * @returns {FakeSupplierKeyStats}
   */
  function keyStats(key) {
    const e = state.keys.get(key);
    const record = e?.record ?? null;
    return {
      key,
      seen: e !== undefined,
      calls: e?.calls ?? 0,
      sideEffects: e?.sideEffects ?? 0,
      concurrent: e?.concurrent ?? 0,
      maxConcurrent: e?.maxConcurrent ?? 0,
      inFlight: record?.state === 'inflight',
      answer: record && record.state === 'done' ? { status: record.status, body: JSON.parse(record.body) } : null,
      scripted: (state.scripts.get(key) ?? []).map((o) => o.label),
    };
  }

  function publicConfig() {
    return { ...config };
  }

  /**
   * @param {FakeSupplierConfigChanges | null | undefined} changes
   * @returns {FakeSupplierConfig}
   */
  function configure(changes) {
    const next = mergeConfig(config, changes ?? {}, { runtime: true });
    const rateChanged = next.rateLimit !== config.rateLimit;
    const seedChanged = changes?.seed !== undefined;
    config = next;
    if (rateChanged) refill();
    if (seedChanged) rng = mulberry32(config.seed);
    return publicConfig();
  }

  /**
   * @param {unknown} orderId
   * @param {unknown} answers
   * @returns {FakeSupplierScriptResult}
   */
  function script(orderId, answers) {
    if (typeof orderId !== 'string' || orderId === '') throw new Error('orderId must be a non-empty string');
    if (!Array.isArray(answers)) throw new Error('answers must be an array');
    const outcomes = answers.map((a) => parseAnswer(a, config));
    if (outcomes.length) state.scripts.set(orderId, outcomes);
    else state.scripts.delete(orderId);
    return { orderId, answers: outcomes.map((o) => o.label) };
  }

  function reset() {
    state = newState();
    rng = mulberry32(config.seed);
    refill();
  }

  /**
   * @param {IncomingMessage} req
   * @param {ServerResponse} res
   * @param {string} path
   * @param {string} query
   */
  function control(req, res, path, query) {
    const method = req.method;
    const reply = (/** @type {number} */ status, /** @type {unknown} */ body) => send(res, status, body);
    /** @param {(body: any) => unknown} fn */
    const withBody = (fn) =>
      readBody(req, 1 << 20, (text) => {
        if (text === null) return reply(413, { error: 'body too large' });
        /** @type {unknown} */
        let body = {};
        if (text.trim() !== '') {
          try {
            body = JSON.parse(text);
          } catch {
            return reply(400, { error: 'body is not valid JSON' });
          }
        }
        try {
          reply(200, fn(body));
        } catch (error) {
          reply(400, { error: /** @type {Error} */ (error).message });
        }
      });
    if (path === '/_stats' && method === 'GET') return reply(200, stats({ keys: /(?:^|&)keys=(?:1|true)(?:&|$)/.test(query) }));
    if (path.startsWith('/_stats/keys/') && method === 'GET') {
      let key;
      try {
        key = decodeURIComponent(path.slice('/_stats/keys/'.length));
      } catch {
        return reply(400, { error: 'bad key encoding' });
      }
      return reply(200, keyStats(key));
    }
    if (path === '/_config' && method === 'GET') return reply(200, publicConfig());
    if (path === '/_config' && method === 'POST') return withBody((body) => configure(body));
    if (path === '/_script' && method === 'POST') {
      return withBody((body) => {
        if (!isObject(body)) throw new Error('body must be a JSON object');
        return script(body.orderId ?? body.key, body.answers);
      });
    }
    if (path === '/_reset' && method === 'POST') {
      req.resume();
      reset();
      return reply(200, { ok: true });
    }
    if (path === '/_health' && method === 'GET') return reply(200, { ok: true });
    reply(404, { error: 'not found' });
  }

  /**
   * @param {IncomingMessage} req
   * @param {ServerResponse} res
   */
  function handle(req, res) {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path === '/orders' || path === '/' || path === '/orders/') {
      if (req.method !== 'POST') return send(res, 405, { error: 'method not allowed' }, { allow: 'POST' });
      return orderCall(req, res);
    }
    if (path.startsWith('/_')) return control(req, res, path, q < 0 ? '' : url.slice(q + 1));
    req.resume();
    send(res, 404, { error: 'not found' });
  }

  return { handle, stats, keyStats, configure, script, reset, config: publicConfig, heldSockets };
}

/** @type {Outcome} */
const OK = { kind: 'ok', label: '201' };
const E503 = { kind: 'error', status: 503, label: '503' };
const TIMEOUT = { kind: 'timeout', label: 'timeout' };
const FINAL = { kind: '422', label: '422' };
const GARBAGE = { kind: 'garbage', label: 'garbage' };
const CLOSE_BEFORE = { kind: 'close-before', label: 'close-before' };
const CLOSE_AFTER = { kind: 'close', label: 'close' };

/** @param {string} host */
function urlHost(host) {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

// ---------------------------------------------------------------------------------------------
// In-process

/**
 * Starts the fake in this process. Options default to port 0 on 127.0.0.1, no latency, no rate
 * limit, no faults. `url` is the orders endpoint (…/orders), `baseUrl` the server root.
 * @param {FakeSupplierOptions} [options]
 * @returns {Promise<FakeSupplierApi>}
 */
export async function startFakeSupplierApi(options = {}) {
  const config = mergeConfig(defaults(), pickOptions(options), { runtime: false });
  const core = createCore(config);
  const server = createServer(core.handle);
  server.on('clientError', (_error, socket) => socket.destroy());
  await /** @type {Promise<void>} */ (
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    })
  );
  const port = /** @type {import('node:net').AddressInfo} */ (server.address()).port;
  const baseUrl = `http://${urlHost(config.host)}:${port}`;
  /** @type {Promise<void> | undefined} */
  let closing;
  return {
    url: `${baseUrl}/orders`,
    baseUrl,
    port,
    server,
    stats: (opts) => core.stats(opts),
    keyStats: (key) => core.keyStats(key),
    configure: (changes) => core.configure(changes),
    config: () => core.config(),
    script: (orderId, answers) => core.script(orderId, answers),
    reset: () => core.reset(),
    /** Stops accepting, destroys held requests, lets delayed answers out (up to graceMs), then cuts the rest. */
    close({ graceMs = 2_000 } = {}) {
      closing ??= new Promise((resolve) => {
        const sweep = setInterval(() => server.closeIdleConnections(), 25);
        const cut = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearInterval(sweep);
          clearTimeout(cut);
          resolve();
        });
        for (const socket of core.heldSockets) socket.destroy();
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Child process

/**
 * @param {string} baseUrl
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
function controlCall(baseUrl, method, path, body) {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const req = httpRequest(
      `${baseUrl}${path}`,
      {
        method,
        agent: false,
        headers:
          text === undefined
            ? { connection: 'close' }
            : { connection: 'close', 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
      },
      (res) => {
        /** @type {Buffer[]} */
        const chunks = [];
        res.on('data', (/** @type {Buffer} */ c) => chunks.push(c));
        res.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          /** @type {any} */
          let parsed;
          try {
            parsed = JSON.parse(raw);
          } catch {
            parsed = raw;
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve(parsed);
          else reject(new Error(`fake-supplier-api ${method} ${path}: ${res.statusCode} ${parsed?.error ?? raw}`));
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

/**
 * Starts the fake as a child process (`node tools/fake-supplier-api.mjs <flags>
 * --exit-on-stdin-end`), waits for its "listening" line and returns HTTP-backed helpers. The
 * child ignores the parent's FAKE_SUPPLIER_* variables (options only) and exits when the parent
 * goes away. It does not keep the parent alive; call stop() or kill().
 * @param {SpawnFakeSupplierOptions} [options]
 * @returns {Promise<SpawnedFakeSupplierApi>}
 */
export async function spawnFakeSupplierApi(options = {}) {
  const { startTimeoutMs = 10_000, env: extraEnv = {} } = options;
  mergeConfig(defaults(), pickOptions(options), { runtime: false }); // bad options fail here, not in the child
  /** @type {Record<string, string | undefined>} */
  const env = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith(ENV_PREFIX)) env[name] = value;
  Object.assign(env, extraEnv);
  const args = [SELF, ...toCliArgs({ port: 0, ...options }), '--exit-on-stdin-end'];
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], env });

  let output = '';
  let errors = '';
  const keepTail = (/** @type {string} */ text, /** @type {number} */ limit) => (text.length > limit ? text.slice(-limit) : text);
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    errors = keepTail(errors + chunk, 16_384);
  });
  child.stdout.setEncoding('utf8');
  child.stdin.on('error', () => {}); // EPIPE when the child is gone
  // 'close' comes after the child's stdout and stderr are drained, so the summary line is in.
  /** @type {Promise<FakeSupplierExit>} */
  const exited = new Promise((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal, output, errors }));
  });

  /** @type {number | undefined} */
  let port;
  try {
    port = await /** @type {Promise<number>} */ (
      new Promise((resolve, reject) => {
        let firstLine = '';
        const timer = setTimeout(() => reject(new Error(`fake-supplier-api did not start within ${startTimeoutMs} ms`)), startTimeoutMs);
        const onData = (/** @type {string} */ chunk) => {
          output = keepTail(output + chunk, 65_536);
          if (port !== undefined) return;
          firstLine += chunk;
          const nl = firstLine.indexOf('\n');
          if (nl < 0) return;
          const line = firstLine.slice(0, nl).trim();
          clearTimeout(timer);
          const m = new RegExp(`^${LISTENING} (\\d+)$`).exec(line);
          if (m) {
            port = Number(m[1]);
            resolve(port);
          } else reject(new Error(`fake-supplier-api: unexpected first line "${line}"`));
        };
        child.stdout.on('data', onData);
        child.once('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
        exited.then(({ code, signal }) => {
          clearTimeout(timer);
          reject(new Error(`fake-supplier-api exited (${code ?? signal}) before listening: ${errors.trim()}`));
        });
      })
    );
  } catch (error) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    throw error;
  }

  // Do not keep the parent alive for the child; stop()/kill() take the references back.
  const setRef = (/** @type {boolean} */ on) => {
    // The pipes are net.Sockets underneath (they have ref/unref), though typed as plain streams.
    const handles = /** @type {Array<{ ref?: () => void; unref?: () => void } | null>} */ ([
      child,
      child.stdin,
      child.stdout,
      child.stderr,
    ]);
    for (const handle of handles) {
      if (on) handle?.ref?.();
      else handle?.unref?.();
    }
  };
  setRef(false);

  const host = options.host ?? '127.0.0.1';
  const baseUrl = `http://${urlHost(host)}:${port}`;
  const call = (/** @type {string} */ method, /** @type {string} */ path, /** @type {unknown} */ body = undefined) =>
    controlCall(baseUrl, method, path, body);
  const alive = () => child.exitCode === null && child.signalCode === null;
  /**
   * @param {NodeJS.Signals} signal
   * @param {number} timeoutMs
   */
  async function signalAndWait(signal, timeoutMs) {
    setRef(true);
    if (alive()) child.kill(signal);
    /** @type {NodeJS.Timeout | undefined} */
    let timer;
    /** @type {Promise<void>} */
    const forced = new Promise((resolve) => {
      timer = setTimeout(() => {
        if (alive()) child.kill('SIGKILL');
        resolve();
      }, timeoutMs);
    });
    await Promise.race([exited, forced]);
    clearTimeout(timer);
    return exited;
  }
  return {
    url: `${baseUrl}/orders`,
    baseUrl,
    port: /** @type {number} */ (port),
    pid: child.pid,
    child,
    exited,
    stats: (opts = {}) => call('GET', opts.keys ? '/_stats?keys=1' : '/_stats'),
    keyStats: (key) => call('GET', `/_stats/keys/${encodeURIComponent(key)}`),
    configure: (changes) => call('POST', '/_config', changes),
    config: () => call('GET', '/_config'),
    script: (orderId, answers) => call('POST', '/_script', { orderId, answers }),
    reset: () => call('POST', '/_reset').then(() => undefined),
    /** SIGTERM, then SIGKILL after timeoutMs; resolves with the exit code/signal and stdout. */
    stop: ({ timeoutMs = 10_000 } = {}) => signalAndWait('SIGTERM', timeoutMs),
    kill: () => signalAndWait('SIGKILL', 10_000),
  };
}

// ---------------------------------------------------------------------------------------------
// Standalone

async function main() {
  let cli;
  try {
    cli = parseCliArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`fake-supplier-api: ${/** @type {Error} */ (error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (cli.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let api;
  try {
    api = await startFakeSupplierApi(cli.options);
  } catch (error) {
    process.stderr.write(
      `fake-supplier-api: cannot listen on ${cli.options.host}:${cli.options.port}: ${/** @type {Error} */ (error).message}\n`,
    );
    process.exit(1);
  }
  process.stdout.write(`${LISTENING} ${api.port}\n`);
  let stopping = false;
  const stop = async (/** @type {string} */ why) => {
    if (stopping) {
      api.server.closeAllConnections();
      return;
    }
    stopping = true;
    await api.close();
    const s = api.stats();
    const line =
      `fake-supplier-api stopped (${why}): calls=${s.calls} sideEffects=${s.sideEffects} rejectedForRate=${s.rejectedForRate} ` +
      `duplicateSideEffects=${s.duplicateSideEffects} maxCallsPerSecond=${s.maxCallsPerSecond} maxInFlight=${s.maxInFlight} ` +
      `seed=${api.config().seed}\n`;
    process.stdout.write(line, () => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (cli.exitOnStdinEnd) {
    process.stdin.on('end', () => stop('stdin closed'));
    process.stdin.on('error', () => stop('stdin closed'));
    process.stdin.resume();
  }
}

function isMain() {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(SELF);
  } catch {
    return false;
  }
}

if (isMain()) await main();
