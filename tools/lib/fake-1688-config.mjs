// @ts-check
// Options of the fake 1688 Open API (tools/fake-1688-open-api.mjs): their spec, defaults,
// validation, and the CLI flags / FAKE_1688_* variables that set them.

import process from 'node:process';

export const ENV_PREFIX = 'FAKE_1688_';
const DAY_MS = 24 * 3600 * 1000;
export const FAULTS = /** @type {const} */ ([
  'qos',
  'qos200',
  'error5xx',
  'error200',
  'badSignature',
  'slow',
  'notJson',
  'missingFields',
  'closeConnection',
]);

/**
 * Everything the fake can be told (all optional in startFake1688OpenApi).
 * @typedef {object} Fake1688Config
 * @property {number} port 0 = any free port
 * @property {string} host default 127.0.0.1
 * @property {string} appKey last segment of every API path (default "1234567")
 * @property {string} appSecret HMAC key of _aop_signature (default "test123", the tests' push secret)
 * @property {string} refreshToken the one refresh token getToken accepts
 * @property {string} accessToken a token valid from the start (accessTokenTtlSec); "" for none
 * @property {number} accessTokenTtlSec lifetime of tokens, and the expires_in answered (default 36000)
 * @property {'string' | 'number'} expiresInAs expires_in as "36000" (as 1688 sends it) or 36000
 * @property {number} rateLimit API calls per second, 0 = none
 * @property {number} qosHttpStatus HTTP status of gw.Qos* answers (default 400)
 * @property {boolean} requireTimestamp refuse calls without _aop_timestamp (default true)
 * @property {number} timestampSkewMs how far _aop_timestamp may be from now (default 600000)
 * @property {number} retentionMs messages older than this are gone (default 7 days)
 * @property {'createTimeDesc' | 'modifyTimeAsc'} orderListSort getBuyerOrderList order
 * @property {number} latencyMs
 * @property {number} latencyJitterMs
 * @property {number} qos fault probability (see the header)
 * @property {number} qos200
 * @property {number} error5xx
 * @property {'error_code' | 'errorCode' | 'mixed'} error5xxForm body of injected 5xx answers
 * @property {number} error200
 * @property {number} badSignature
 * @property {number} slow
 * @property {number} slowMs extra delay of a slow answer (default 3000)
 * @property {number} notJson
 * @property {number} missingFields
 * @property {number} closeConnection
 * @property {number} seed uint32
 * @property {number} msgIdBase msgIds of messages the fake makes itself are msgIdBase + 1, + 2, ...
 * @property {number} maxBodyBytes
 */

/** @typedef {'int' | 'number' | 'prob' | 'string' | 'bool' | 'enum'} Kind */
/** @type {Record<keyof Fake1688Config, { kind: Kind, min?: number, max?: number, values?: string[], runtime: boolean, empty?: boolean }>} */
const SPEC = {
  port: { kind: 'int', min: 0, max: 65535, runtime: false },
  host: { kind: 'string', runtime: false },
  appKey: { kind: 'string', runtime: false },
  appSecret: { kind: 'string', runtime: true },
  refreshToken: { kind: 'string', runtime: true },
  accessToken: { kind: 'string', runtime: false, empty: true },
  accessTokenTtlSec: { kind: 'int', min: 1, max: 10 * 365 * 86400, runtime: true },
  expiresInAs: { kind: 'enum', values: ['string', 'number'], runtime: true },
  rateLimit: { kind: 'number', min: 0, max: 10_000_000, runtime: true },
  qosHttpStatus: { kind: 'int', min: 200, max: 599, runtime: true },
  requireTimestamp: { kind: 'bool', runtime: true },
  timestampSkewMs: { kind: 'int', min: 0, max: 365 * DAY_MS, runtime: true },
  retentionMs: { kind: 'int', min: 1, max: 3650 * DAY_MS, runtime: true },
  orderListSort: { kind: 'enum', values: ['createTimeDesc', 'modifyTimeAsc'], runtime: true },
  latencyMs: { kind: 'number', min: 0, max: 3_600_000, runtime: true },
  latencyJitterMs: { kind: 'number', min: 0, max: 3_600_000, runtime: true },
  qos: { kind: 'prob', runtime: true },
  qos200: { kind: 'prob', runtime: true },
  error5xx: { kind: 'prob', runtime: true },
  error5xxForm: { kind: 'enum', values: ['error_code', 'errorCode', 'mixed'], runtime: true },
  error200: { kind: 'prob', runtime: true },
  badSignature: { kind: 'prob', runtime: true },
  slow: { kind: 'prob', runtime: true },
  slowMs: { kind: 'number', min: 0, max: 3_600_000, runtime: true },
  notJson: { kind: 'prob', runtime: true },
  missingFields: { kind: 'prob', runtime: true },
  closeConnection: { kind: 'prob', runtime: true },
  seed: { kind: 'int', min: 0, max: 0xffffffff, runtime: true },
  msgIdBase: { kind: 'int', min: 0, max: 8e15, runtime: true },
  maxBodyBytes: { kind: 'int', min: 1, max: 1 << 30, runtime: true },
};

/** @returns {Fake1688Config} */
export function defaults() {
  return {
    port: 0,
    host: '127.0.0.1',
    appKey: '1234567',
    appSecret: 'test123',
    refreshToken: 'fake-refresh-token',
    accessToken: 'fake-access-token',
    accessTokenTtlSec: 36_000,
    expiresInAs: 'string',
    rateLimit: 0,
    qosHttpStatus: 400,
    requireTimestamp: true,
    timestampSkewMs: 600_000,
    retentionMs: 7 * DAY_MS,
    orderListSort: 'createTimeDesc',
    latencyMs: 0,
    latencyJitterMs: 0,
    qos: 0,
    qos200: 0,
    error5xx: 0,
    error5xxForm: 'error_code',
    error200: 0,
    badSignature: 0,
    slow: 0,
    slowMs: 3000,
    notJson: 0,
    missingFields: 0,
    closeConnection: 0,
    seed: (Date.now() ^ (process.pid << 16)) >>> 0,
    // Far from the simulator's unix-seconds x 1e6 and moving with the clock, so that a restarted
    // fake does not reuse msgIds a service has already seen.
    msgIdBase: 7e15 + Date.now() * 100,
    maxBodyBytes: 1 << 20,
  };
}

/**
 * @param {string} name
 * @param {unknown} value
 * @returns {unknown}
 */
function coerce(name, value) {
  const spec = SPEC[/** @type {keyof Fake1688Config} */ (name)];
  if (!spec) throw new Error(`unknown option "${name}"`);
  if (spec.kind === 'string') {
    if (typeof value !== 'string' || (value === '' && !spec.empty)) throw new Error(`${name} must be a non-empty string`);
    return value;
  }
  if (spec.kind === 'enum') {
    if (typeof value !== 'string' || !spec.values?.includes(value)) throw new Error(`${name} must be one of ${spec.values?.join(', ')}`);
    return value;
  }
  if (spec.kind === 'bool') {
    if (value === true || value === 'true' || value === '1') return true;
    if (value === false || value === 'false' || value === '0') return false;
    throw new Error(`${name} must be true or false`);
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
 * @param {Fake1688Config} base
 * @param {unknown} changes
 * @param {{ runtime: boolean }} mode
 * @returns {Fake1688Config}
 */
export function mergeConfig(base, changes, { runtime }) {
  if (changes === null || typeof changes !== 'object' || Array.isArray(changes)) throw new Error('config must be a JSON object');
  /** @type {Record<string, unknown>} */
  const next = { ...base };
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) continue;
    if (!Object.hasOwn(SPEC, name)) throw new Error(`unknown option "${name}"`);
    const key = /** @type {keyof Fake1688Config} */ (name);
    if (runtime && !SPEC[key].runtime) {
      if (value === base[key] || (name === 'port' && value === 0)) continue;
      throw new Error(`${name} cannot change at runtime`);
    }
    next[name] = coerce(name, value);
  }
  const config = /** @type {Fake1688Config} */ (next);
  const sum = FAULTS.reduce((total, name) => total + config[name], 0);
  if (sum > 1 + 1e-9) throw new Error(`fault probabilities add up to ${sum}, more than 1`);
  return config;
}

/**
 * @param {Record<string, unknown>} options
 * @returns {Partial<Fake1688Config>}
 */
export function pickOptions(options) {
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const name of Object.keys(SPEC)) if (options[name] !== undefined) out[name] = options[name];
  return out;
}

/** @param {string} name camelCase */
export const flagOf = (name) => name.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`);
/** @param {string} name camelCase */
export const envOf = (name) => ENV_PREFIX + flagOf(name).replace(/-/g, '_').toUpperCase();

/**
 * Parses CLI flags (--name value or --name=value) over FAKE_1688_* environment variables.
 * @param {string[]} argv
 * @param {Record<string, string | undefined>} [env]
 * @returns {{ options: Fake1688Config, exitOnStdinEnd: boolean, help: boolean }}
 */
export function parseCliArgs(argv, env = process.env) {
  const byFlag = new Map(Object.keys(SPEC).map((name) => [flagOf(name), name]));
  /** @type {Record<string, unknown>} */
  const options = { port: 4100 };
  for (const name of Object.keys(SPEC)) {
    const value = env[envOf(name)];
    if (value !== undefined && (value !== '' || name === 'accessToken')) options[name] = value;
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
      if (eq >= 0) options[name] = arg.slice(eq + 1);
      else if (i + 1 < argv.length) options[name] = argv[++i];
      else throw new Error(`--${flag} needs a value`);
    }
  }
  return { options: mergeConfig(defaults(), options, { runtime: false }), exitOnStdinEnd, help };
}
