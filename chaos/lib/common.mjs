// @ts-check
// Settings and small helpers every part of the chaos suite uses: where Postgres and Redis are,
// the credentials (tools/lib/harness-secrets.mjs), sleeping, free ports, numbers, control calls.
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { HARNESS_SECRETS } from '../../tools/lib/harness-secrets.mjs';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const ADMIN_DATABASE_URL = process.env.CHAOS_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const SHARED_REDIS_URL = process.env.CHAOS_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Signs the 1688 pushes (ALIBABA_APP_SECRET of every service process). */
export const APP_SECRET = HARNESS_SECRETS.appSecret;
/** A client key (API_KEYS): /orders, reading dead letters. */
export const API_KEY = HARNESS_SECRETS.apiKey;
/** An operator key (ADMIN_API_KEYS): dead-letter actions, POST /dispatch/run. */
export const ADMIN_KEY = HARNESS_SECRETS.adminKey;
/** application_name of the suite's own Postgres connections: never counted, never terminated. */
export const CHAOS_APP_NAME = 'ordersync-chaos';
/** SHUTDOWN_GRACE_MS of every service process. */
export const SHUTDOWN_GRACE_MS = 10_000;
/** How long a graceful stop (SIGTERM) may take before it counts as a hang. */
export const STOP_HANG_MS = SHUTDOWN_GRACE_MS + 5_000;
/** The work queues whose jobs the scenarios wait for (dispatch-schedule holds its schedulers for ever). */
export const WORK_QUEUES = ['order-events', 'order-dispatch', 'dispatch-results'];

/** The suite's own failure: a scenario stopped (deadline, Ctrl-C, cleanup). */
export class ScenarioAbort extends Error {}

/**
 * @param {number} ms
 * @param {AbortSignal} [signal]
 * @returns {Promise<void>}
 */
export const sleep = (ms, signal) => delay(ms, undefined, signal ? { signal } : undefined);

/** @returns {Promise<number>} a TCP port nothing listens on right now */
export async function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = /** @type {net.AddressInfo} */ (server.address());
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * @param {unknown} n
 * @returns {string}
 */
export const fmt = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : String(n));

/** @param {number} ms */
export const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

/**
 * @typedef {object} JsonAnswer
 * @property {number} status
 * @property {any} body the parsed JSON, or null
 * @property {string} text
 * @property {number} ms how long it took
 */

/**
 * GET/POST JSON against the service (control calls, not pushes).
 *
 * @param {string} method
 * @param {string} url
 * @param {{ body?: unknown, key?: string, timeoutMs?: number }} [options]
 * @returns {Promise<JsonAnswer>}
 */
export async function httpJson(method, url, { body, key, timeoutMs = 5_000 } = {}) {
  /** @type {Record<string, string>} */
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (key) headers.authorization = `Bearer ${key}`;
  const t0 = performance.now();
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: body stays null, the text is there
  }
  return { status: response.status, body: json, text, ms: performance.now() - t0 };
}

/** @returns {{ commit: string, dirty: boolean }} */
export function gitInfo() {
  const run = (/** @type {string[]} */ args) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  const head = run(['rev-parse', '--short=12', 'HEAD']);
  const commit = head.status === 0 ? head.stdout.trim() : 'unknown';
  // Read-only: compares the working tree with HEAD without touching the index.
  const dirty = run(['diff-index', '--quiet', 'HEAD', '--']).status === 1;
  return { commit, dirty };
}

/**
 * The message of an error, whatever was thrown.
 *
 * @param {unknown} error
 * @returns {string}
 */
export function messageOf(error) {
  return error instanceof Error ? error.message : String(error);
}
