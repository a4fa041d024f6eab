// @ts-check
// The load a scenario puts on the service: 1688 pushes from a 1688-like sender (re-sends
// non-2xx answers and refused connections with growing gaps) and orders created over REST.
import http from 'node:http';
import { planPushes } from '../../tools/simulator-1688.mjs';
import { API_KEY, APP_SECRET, fmt, httpJson, messageOf, sleep } from './common.mjs';

/**
 * @typedef {object} Delivery
 * @property {string} msgId
 * @property {string} orderId the supplier order id
 * @property {string} status
 * @property {number} eventTime
 * @property {number} gmtBorn
 * @property {string} body the signed form body
 */

/**
 * @typedef {object} Pushes
 * @property {Delivery[]} deliveries
 * @property {number} unique distinct msgIds
 * @property {number} duplicates deliveries of a msgId already delivered
 */

/**
 * About `messages` pushes of 1688 order lifecycles (waitbuyerpay → ... → success / cancel) for
 * supplier order ids idBase + 1, + 2, ...: a few reordered, a few delivered twice (as 1688 does).
 *
 * @param {{ messages: number, idBase?: string, seed?: number, reorderRate?: number, duplicateRate?: number }} options
 * @returns {Pushes}
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
  /** @param {number} n */
  constructor(n) {
    this.free = n;
    /** @type {(() => void)[]} */
    this.queue = [];
  }

  /** @returns {Promise<void>} */
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
 * @typedef {object} PushSenderOptions
 * @property {() => string} baseUrl where the API is now
 * @property {number} [concurrency] requests in flight at most (default 32)
 * @property {number} [attempts] deliveries of one push at most (default 14)
 * @property {number} [retryBaseMs] first gap before a re-send (default 200)
 * @property {number} [maxGapMs] longest gap (default 3000)
 * @property {number} [timeoutMs] per request (default 10000)
 * @property {boolean} [timeline] keep every request's times and answer
 */

/**
 * Sends pushes the way 1688 does: each delivery is re-sent after a non-2xx answer, a refused or
 * reset connection or a timeout, with growing gaps (retryBaseMs, 2x, 4x ... capped at
 * maxGapMs), `attempts` times at most; then it counts as failed (never acknowledged, so never
 * "lost"). Keep-alive agent, bounded concurrency, bodies signed in advance.
 */
export class PushSender {
  /** @param {PushSenderOptions} options */
  constructor({ baseUrl, concurrency = 32, attempts = 14, retryBaseMs = 200, maxGapMs = 3_000, timeoutMs = 10_000, timeline = false }) {
    this.baseUrl = baseUrl;
    this.concurrency = concurrency;
    this.attempts = attempts;
    this.retryBaseMs = retryBaseMs;
    this.maxGapMs = maxGapMs;
    this.timeoutMs = timeoutMs;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
    /** @type {Set<string>} */
    this.acked = new Set();
    /** @type {Set<string>} */
    this.sentIds = new Set();
    this.deliveries = 0;
    this.requests = 0;
    this.retries = 0;
    /** @type {{ msgId: string, lastAnswer: string }[]} */
    this.failed = [];
    this.abandoned = 0;
    /** @type {Record<string, number>} */
    this.responses = {};
    /** @type {{ t0: number, t1: number, status: string }[] | null} */
    this.timeline = timeline ? [] : null;
    this.inFlight = 0;
    this.elapsedMs = 0;
  }

  /**
   * @param {string} body
   * @returns {Promise<{ status: string, started: number, ended: number }>}
   */
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
          response.once('error', (/** @type {NodeJS.ErrnoException} */ error) =>
            resolve({ status: error.code ?? 'ERESPONSE', started, ended: performance.now() }),
          );
        },
      );
      request.setTimeout(this.timeoutMs, () => request.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      request.once('error', (/** @type {NodeJS.ErrnoException} */ error) =>
        resolve({ status: error.code ?? 'ERROR', started, ended: performance.now() }),
      );
      request.end(body);
    });
  }

  /**
   * @param {Delivery} delivery
   * @param {Semaphore} slots
   * @param {AbortSignal} [signal]
   */
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

  /**
   * Plays `deliveries` at `ratePerSec` (0 = as fast as concurrency allows); resolves when every delivery is settled.
   *
   * @param {Delivery[]} deliveries
   * @param {{ ratePerSec?: number, signal?: AbortSignal }} [options]
   */
  async run(deliveries, { ratePerSec = 0, signal } = {}) {
    const slots = new Semaphore(this.concurrency);
    /** @type {Promise<void>[]} */
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
      const delivery = /** @type {Delivery} */ (deliveries[i]);
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

/**
 * @param {string} prefix
 * @param {number} n
 * @returns {string[]}
 */
export function orderIds(prefix, n) {
  return Array.from({ length: n }, (_, i) => `${prefix}-${String(i + 1).padStart(6, '0')}`);
}

/**
 * @typedef {object} CreateOrdersResult
 * @property {number} created
 * @property {number} existing
 * @property {number} retries batch re-sends after an error
 * @property {Record<string, number>} answers every answer by status (or error code)
 * @property {number[]} createdAt per batch, when it was answered 200 (performance.now())
 */

/**
 * Creates orders through POST /orders/batch, re-sending a batch (same ids, same payloads) until
 * it is answered 200 or `patienceMs` has passed for it. Batches follow one another `gapMs`
 * apart, or, with `spreadOverMs`, are due at even times over that span (a batch held up by an
 * outage does not push the later ones back).
 *
 * @param {{ throwIfAborted(): void, sleep(ms: number): Promise<void> }} ctx
 * @param {{ baseUrl: () => string, ids: string[], batchSize?: number, gapMs?: number, spreadOverMs?: number, patienceMs?: number }} options
 * @returns {Promise<CreateOrdersResult>}
 */
export async function createOrders(ctx, { baseUrl, ids, batchSize = 100, gapMs = 0, spreadOverMs, patienceMs = 90_000 }) {
  const t0 = performance.now();
  const batches = Math.ceil(ids.length / batchSize);
  let created = 0;
  let existing = 0;
  let retries = 0;
  /** @type {Record<string, number>} */
  const answers = {};
  /** @type {number[]} */
  const createdAt = [];
  for (let i = 0; i < ids.length; i += batchSize) {
    if (spreadOverMs !== undefined) {
      const due = t0 + ((i / batchSize) * spreadOverMs) / batches;
      if (due > performance.now()) await ctx.sleep(due - performance.now());
    }
    const orders = ids.slice(i, i + batchSize).map((id) => ({ id, payload: { sku: `SKU-${id}`, quantity: 1 + (id.length % 5) } }));
    const since = performance.now();
    for (let attempt = 1; ; attempt++) {
      ctx.throwIfAborted();
      /** @type {{ status: number | string, body?: any }} */
      let answer;
      try {
        answer = await httpJson('POST', `${baseUrl()}/orders/batch`, { body: { orders }, key: API_KEY, timeoutMs: 10_000 });
      } catch (error) {
        const cause = /** @type {{ cause?: { code?: string }, name?: string }} */ (error);
        answer = { status: cause.cause?.code ?? cause.name ?? messageOf(error) };
      }
      answers[String(answer.status)] = (answers[String(answer.status)] ?? 0) + 1;
      if (answer.status === 200) {
        created += answer.body.created;
        existing += answer.body.existing;
        createdAt.push(performance.now());
        if (answer.body.conflicts > 0)
          throw new Error(`POST /orders/batch answered ${answer.body.conflicts} conflicts for a re-send of the same orders`);
        break;
      }
      if (performance.now() - since > patienceMs)
        throw new Error(`POST /orders/batch never answered 200 in ${patienceMs / 1000} s (last: ${answer.status})`);
      retries += 1;
      await ctx.sleep(Math.min(2_000, 100 * attempt));
    }
    if (spreadOverMs === undefined && gapMs > 0 && i + batchSize < ids.length) await ctx.sleep(gapMs);
  }
  return { created, existing, retries, answers, createdAt };
}
