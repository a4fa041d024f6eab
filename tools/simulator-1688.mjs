#!/usr/bin/env node
// @ts-check
// 1688 push simulator: plays 1688 Open Platform's order message push for a set of supplier
// orders, the way real 1688 does it. Plain Node ESM, `node:` built-ins only, no build step.
// Types: tools/simulator-1688.types.d.mts (re-exported here). Contract: ../shared/CONTRACT.md, "1688 message push".
//
//   node tools/simulator-1688.mjs --target http://127.0.0.1:3000 --secret s3cret --count 200 \
//     --rate 500 --duplicate-rate 0.1 --reorder-rate 0.1 --json
//
// Each push is `POST <target>/webhooks/1688`, Content-Type application/x-www-form-urlencoded,
// body `message=<json>&_aop_signature=<HEX UPPER HMAC-SHA1(appSecret, "message" + json)>`
// (form encoding as Java's URLEncoder / URLSearchParams: space -> "+"). The message text is built
// by hand so that `data.orderId` is a bare JSON number with every digit of the supplier order id
// (ids are above 2^53; JSON.stringify of a number would round them):
//   {"msgId":N,"type":TOPIC,"gmtBorn":MS,"userInfo":"b2b-...","data":{"orderId":167539019420540001,
//    "currentStatus":STATUS,"msgSendTime":"YYYY-MM-DD HH:mm:ss" (UTC+8),"buyerMemberId":"b2b-1",
//    "sellerMemberId":"b2b-2"}}
//
// The plan (deterministic for a given seed, startTime and msgIdBase; see planPushes):
//   - every order walks waitbuyerpay (ORDER_BUYER_VIEW_BUYER_MAKE) -> waitsellersend
//     (ORDER_BUYER_VIEW_ORDER_PAY) -> waitbuyerreceive (ORDER_BUYER_VIEW_ANNOUNCE_SENDGOODS) ->
//     confirm_goods (ORDER_BUYER_VIEW_ORDER_COMFIRM_RECEIVEGOODS) -> success
//     (ORDER_BUYER_VIEW_ORDER_SUCCESS); a share `cancelRate` ends in cancel
//     (ORDER_BUYER_VIEW_ORDER_BUYER_CLOSE) after 1 or 2 steps;
//   - status changes happen on a simulated clock: an order starts somewhere in the first hour
//     (`orderSpreadSec`, default 3600), each next step 1..600 whole seconds later (`stepGapMaxSec`,
//     default 600; so msgSendTime strictly increases per order, >= 1 s apart); gmtBorn = that
//     second + 0..999 ms. By default the simulated timeline ends one second before the run starts,
//     so no message is from the future (smaller spreads put every change in the last minutes, as
//     when 1688 pushes what just happened);
//   - messages go out in the order 1688 produced them (by gmtBorn), msgIds increasing from
//     msgIdBase + 1; then, per order, each later message swaps places with the one before it with
//     probability `reorderRate` (a later message delivered before an earlier one); then each
//     message is sent once more, 1..100 deliveries later, with probability `duplicateRate` (same
//     msgId, byte-identical body).
// Sending: open loop at `rate` deliveries/s (0 = as fast as `concurrency` allows), at most
// `concurrency` requests in flight over a keep-alive agent. A non-2xx answer, a network error or
// a timeout is re-sent up to `retries` times after retryBaseMs, 2x, 4x, ... (200, 400, 800 ms by
// default), without holding a concurrency slot while waiting; then the delivery counts as failed.
//
// What 1688 keeps for pulling (with `openApi`: a fake-1688-open-api instance, or its base URL):
//   - `dropRate` / `dropMsgIds`: messages whose pushes are never delivered at all (no request is
//     made for them or their duplicates; a separate PRNG stream, so other choices do not move);
//   - a delivery given up after `retries` re-sends (3 by default, as 1688 does), or abandoned by
//     an abort, or never started because of one;
//   every message with no acknowledged delivery goes into the fake's message store (at once when
//   dropped or given up, the rest when the run ends), so that only a pull can recover it.
//   Orders: before sending, each order is registered in the fake's order store with its final
//   status (1688's state is ahead of its pushes), modifyTime = its last status change
//   (`registerOrders`, default true). After the run, `silentChangeRate` / `silentChanges` change
//   statuses at 1688 with no push and no stored message (a refund, a seller closing the order):
//   waitbuyerpay / waitsellersend -> cancel, waitbuyerreceive / confirm_goods / success ->
//   terminated, modifyTime = now. changeOrderStatuses() does the same on its own.

import { createHmac, randomInt } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from './lib/harness-prng.mjs';

/**
 * @typedef {import('./simulator-1688.types.mjs').OrderStatus1688} OrderStatus1688
 * @typedef {import('./simulator-1688.types.mjs').OrderTopic1688} OrderTopic1688
 * @typedef {import('./simulator-1688.types.mjs').SupplierOrderId} SupplierOrderId
 * @typedef {import('./simulator-1688.types.mjs').PlanOptions} PlanOptions
 * @typedef {import('./simulator-1688.types.mjs').OpenApiStore} OpenApiStore
 * @typedef {import('./simulator-1688.types.mjs').SimulatorOptions} SimulatorOptions
 * @typedef {import('./simulator-1688.types.mjs').SimulatorProgress} SimulatorProgress
 * @typedef {import('./simulator-1688.types.mjs').PlannedDelivery} PlannedDelivery
 * @typedef {import('./simulator-1688.types.mjs').SilentChange} SilentChange
 * @typedef {import('./simulator-1688.types.mjs').SimulatorPlan} SimulatorPlan
 * @typedef {import('./simulator-1688.types.mjs').SimulatorFailure} SimulatorFailure
 * @typedef {import('./simulator-1688.types.mjs').SimulatorReport} SimulatorReport
 */

/**
 * A status change made at 1688 with no push (changeOrderStatuses).
 * @typedef {{ orderId: string | bigint; status: string; modifyTime?: number; emitMessage?: boolean; type?: string; refundStatus?: string }} StatusChange
 */

const SELF = fileURLToPath(import.meta.url);

export const DEFAULT_ID_BASE = '167539019420540000';
export const DEFAULT_USER_INFO = 'b2b-1676547900b7bb3';

/**
 * Order status -> the 1688 topic that announces it.
 * @type {Readonly<Record<OrderStatus1688, OrderTopic1688>>}
 */
export const TOPIC_BY_STATUS = Object.freeze({
  waitbuyerpay: 'ORDER_BUYER_VIEW_BUYER_MAKE',
  waitsellersend: 'ORDER_BUYER_VIEW_ORDER_PAY',
  waitbuyerreceive: 'ORDER_BUYER_VIEW_ANNOUNCE_SENDGOODS',
  confirm_goods: 'ORDER_BUYER_VIEW_ORDER_COMFIRM_RECEIVEGOODS',
  success: 'ORDER_BUYER_VIEW_ORDER_SUCCESS',
  cancel: 'ORDER_BUYER_VIEW_ORDER_BUYER_CLOSE',
});

/** @type {OrderStatus1688[]} */
const LIFECYCLE = ['waitbuyerpay', 'waitsellersend', 'waitbuyerreceive', 'confirm_goods', 'success'];
const ORDER_SPREAD_SEC = 3600; // orders start within the first simulated hour (default of orderSpreadSec)
const STEP_GAP_MAX_SEC = 600; // next status 1..600 s later (default of stepGapMaxSec)
const DUPLICATE_WINDOW = 100; // a duplicate goes 1..100 deliveries after its original
const CHINA_OFFSET_MS = 8 * 3600 * 1000;

// ---------------------------------------------------------------------------------------------
// Small helpers

/**
 * HEX UPPER HMAC-SHA1(appSecret, "message" + messageJson): 1688's `_aop_signature` for one field.
 * @param {string} appSecret
 * @param {string} messageJson
 * @returns {string}
 */
export function signMessage(appSecret, messageJson) {
  return createHmac('sha1', appSecret).update(`message${messageJson}`).digest('hex').toUpperCase();
}

/**
 * "YYYY-MM-DD HH:mm:ss" in China time (UTC+8), as 1688's msgSendTime.
 * @param {number} ms
 * @returns {string}
 */
export function formatChinaTime(ms) {
  const d = new Date(ms + CHINA_OFFSET_MS);
  const p = (/** @type {number} */ n) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

/**
 * The message JSON text, built by hand: orderId goes in as a bare number, digit for digit.
 * @param {{ msgId: number | string; type: string; gmtBorn: number; userInfo?: string; orderId: string | bigint; status: string; msgSendTime: string }} fields
 * @returns {string}
 */
export function buildMessage({ msgId, type, gmtBorn, userInfo = DEFAULT_USER_INFO, orderId, status, msgSendTime }) {
  const id = String(orderId);
  if (!/^[1-9]\d*$/.test(id)) throw new Error(`orderId must be a positive integer written in digits, got "${id}"`);
  return (
    `{"msgId":${msgId},"type":${JSON.stringify(type)},"gmtBorn":${gmtBorn},"userInfo":${JSON.stringify(userInfo)},` +
    `"data":{"orderId":${id},"currentStatus":${JSON.stringify(status)},"msgSendTime":${JSON.stringify(msgSendTime)},` +
    `"buyerMemberId":"b2b-1","sellerMemberId":"b2b-2"}}`
  );
}

/**
 * The form body 1688 posts: message=<json>&_aop_signature=<hex upper> (space as "+").
 * @param {string} appSecret
 * @param {string} messageJson
 * @returns {string}
 */
export function formBody(appSecret, messageJson) {
  return new URLSearchParams({ message: messageJson, _aop_signature: signMessage(appSecret, messageJson) }).toString();
}

/**
 * @param {number[]} sorted
 * @param {number} p
 */
function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const round2 = (/** @type {number} */ n) => Math.round(n * 100) / 100;

// ---------------------------------------------------------------------------------------------
// Options

/**
 * @param {string} message
 * @returns {never}
 */
function fail(message) {
  throw new Error(`simulator-1688: ${message}`);
}

/**
 * @param {string} name
 * @param {unknown} value
 * @param {{ min?: number; max?: number; int?: boolean; allowInfinity?: boolean }} [limits]
 * @returns {number}
 */
function num(name, value, { min = -Infinity, max = Infinity, int = false, allowInfinity = false } = {}) {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || Number.isNaN(n) || (!Number.isFinite(n) && !allowInfinity))
    fail(`${name} must be a number, got ${String(value)}`);
  if (int && Number.isFinite(n) && !Number.isInteger(n)) fail(`${name} must be an integer, got ${n}`);
  if (n < min || n > max) fail(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

/**
 * @param {string} name
 * @param {unknown} value
 * @returns {string}
 */
function digits(name, value) {
  if (typeof value === 'number' && !Number.isSafeInteger(value))
    fail(`${name} ${value} is not a safe integer; pass it as a string or bigint to keep every digit`);
  const text = typeof value === 'string' ? value.trim() : typeof value === 'bigint' || typeof value === 'number' ? String(value) : '';
  if (!/^[1-9]\d*$/.test(text)) fail(`${name} must be a positive integer written in digits, got ${JSON.stringify(String(value))}`);
  return text;
}

/**
 * Options after normalize(): validated, defaults filled in.
 * @typedef {{
 *   target: string; appSecret: string; path: string; ids: string[];
 *   cancelRate: number; duplicateRate: number; reorderRate: number; rate: number; concurrency: number;
 *   retries: number; retryBaseMs: number; timeoutMs: number; orderSpreadSec: number; stepGapMaxSec: number;
 *   progressIntervalMs: number; seed: number; startTime: number | undefined; msgIdBase: number; userInfo: string;
 *   onProgress: ((progress: SimulatorProgress) => void) | undefined; signal: AbortSignal | undefined;
 *   dropRate: number; dropMsgIds: Set<string>; silentChangeRate: number;
 *   silentChanges: Array<{ orderId: string; status: string }>; openApi: OpenApiStore | string | undefined;
 *   registerOrders: boolean;
 * }} Normalized
 */

/**
 * Validates options and fills defaults; throws with a message naming the bad option.
 * @param {Partial<SimulatorOptions>} options
 * @param {{ needTarget: boolean }} mode
 * @returns {Normalized}
 */
function normalize(options, { needTarget }) {
  if (options === null || typeof options !== 'object') fail('options must be an object');
  const o = /** @type {Normalized} */ ({ target: '' });
  if (needTarget) {
    if (typeof options.target !== 'string' || options.target === '') fail('target (base URL, e.g. http://127.0.0.1:3000) is required');
    /** @type {URL} */
    let url;
    try {
      url = new URL(options.target);
    } catch {
      fail(`target is not a URL: ${options.target}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(`target must be http:// or https://, got ${options.target}`);
    o.target = options.target;
  }
  if (typeof options.appSecret !== 'string' || options.appSecret === '') fail('appSecret is required');
  o.appSecret = options.appSecret;
  o.path = options.path ?? '/webhooks/1688';
  if (typeof o.path !== 'string' || !o.path.startsWith('/')) fail('path must start with "/"');

  if (options.ids !== undefined && options.ids !== null) {
    if (!Array.isArray(options.ids)) fail('ids must be an array of supplier order ids (digit strings)');
    if (options.count !== undefined && options.count !== null) fail('give either ids or count, not both');
    o.ids = options.ids.map((id, i) => digits(`ids[${i}]`, id));
    /** @type {Set<string>} */
    const seen = new Set();
    for (const id of o.ids) {
      if (seen.has(id)) fail(`ids contains ${id} twice`);
      seen.add(id);
    }
  } else if (options.count !== undefined && options.count !== null) {
    const count = num('count', options.count, { min: 0, max: 10_000_000, int: true });
    const base = BigInt(digits('idBase', options.idBase ?? DEFAULT_ID_BASE));
    o.ids = Array.from({ length: count }, (_, i) => String(base + BigInt(i + 1)));
  } else fail('give ids (supplier order ids) or count');

  o.cancelRate = num('cancelRate', options.cancelRate ?? 0.1, { min: 0, max: 1 });
  o.duplicateRate = num('duplicateRate', options.duplicateRate ?? 0, { min: 0, max: 1 });
  o.reorderRate = num('reorderRate', options.reorderRate ?? 0, { min: 0, max: 1 });
  o.rate = num('rate', options.rate ?? 100, { min: 0, allowInfinity: true });
  o.concurrency = num('concurrency', options.concurrency ?? 16, { min: 1, max: 100_000, int: true });
  o.retries = num('retries', options.retries ?? 3, { min: 0, max: 100, int: true });
  o.retryBaseMs = num('retryBaseMs', options.retryBaseMs ?? 200, { min: 0, max: 3_600_000 });
  o.timeoutMs = num('timeoutMs', options.timeoutMs ?? 10_000, { min: 1, max: 3_600_000 });
  o.orderSpreadSec = num('orderSpreadSec', options.orderSpreadSec ?? ORDER_SPREAD_SEC, { min: 1, max: 365 * 86_400, int: true });
  o.stepGapMaxSec = num('stepGapMaxSec', options.stepGapMaxSec ?? STEP_GAP_MAX_SEC, { min: 1, max: 86_400, int: true });
  o.progressIntervalMs = num('progressIntervalMs', options.progressIntervalMs ?? 1000, { min: 1, max: 3_600_000 });
  o.seed =
    options.seed === undefined || options.seed === null
      ? randomInt(0, 2 ** 32)
      : num('seed', options.seed, { min: 0, max: 0xffffffff, int: true });
  o.startTime = options.startTime === undefined || options.startTime === null ? undefined : parseTime(options.startTime);
  const nowSec = Math.floor(Date.now() / 1000);
  o.msgIdBase =
    options.msgIdBase === undefined || options.msgIdBase === null
      ? nowSec * 1_000_000
      : num('msgIdBase', options.msgIdBase, { min: 0, max: Number.MAX_SAFE_INTEGER, int: true });
  o.userInfo = options.userInfo ?? DEFAULT_USER_INFO;
  if (typeof o.userInfo !== 'string' || o.userInfo === '') fail('userInfo must be a non-empty string');
  o.onProgress = options.onProgress;
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') fail('onProgress must be a function');
  o.signal = options.signal;

  o.dropRate = num('dropRate', options.dropRate ?? 0, { min: 0, max: 1 });
  if (options.dropMsgIds !== undefined && options.dropMsgIds !== null && !Array.isArray(options.dropMsgIds))
    fail('dropMsgIds must be an array of msgIds');
  o.dropMsgIds = new Set((options.dropMsgIds ?? []).map((id, i) => digits(`dropMsgIds[${i}]`, id)));
  o.silentChangeRate = num('silentChangeRate', options.silentChangeRate ?? 0, { min: 0, max: 1 });
  if (options.silentChanges !== undefined && options.silentChanges !== null && !Array.isArray(options.silentChanges))
    fail('silentChanges must be an array of {orderId, status}');
  const known = new Set(o.ids);
  o.silentChanges = (options.silentChanges ?? []).map((c, i) => {
    const orderId = digits(`silentChanges[${i}].orderId`, c?.orderId);
    if (!known.has(orderId)) fail(`silentChanges[${i}].orderId ${orderId} is not one of the run's orders`);
    if (typeof c.status !== 'string' || c.status === '') fail(`silentChanges[${i}].status must be a non-empty string`);
    return { orderId, status: c.status };
  });
  o.openApi = options.openApi ?? undefined;
  if (typeof o.openApi === 'string') {
    /** @type {URL} */
    let u;
    try {
      u = new URL(o.openApi);
    } catch {
      fail(`openApi is not a URL: ${o.openApi}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') fail(`openApi must be http:// or https://, got ${o.openApi}`);
  } else if (o.openApi !== undefined && (typeof o.openApi !== 'object' || typeof o.openApi.addMessages !== 'function')) {
    fail('openApi must be a fake-1688-open-api instance or its base URL');
  }
  o.registerOrders = options.registerOrders ?? true;
  return o;
}

/**
 * @param {unknown} value
 * @returns {number}
 */
function parseTime(value) {
  if (value instanceof Date) value = value.getTime();
  if (typeof value === 'string' && !/^\d+$/.test(value.trim())) {
    const ms = Date.parse(value);
    if (Number.isNaN(ms)) fail(`startTime is not a time: ${value}`);
    value = ms;
  }
  const ms = num('startTime', value, { min: 0, max: 8.64e15, int: true });
  return Math.floor(ms / 1000) * 1000;
}

// ---------------------------------------------------------------------------------------------
// The plan

/**
 * Builds the deliveries of a run without sending anything: deterministic for the same ids, seed,
 * rates, startTime and msgIdBase.
 * @param {PlanOptions} options
 * @returns {SimulatorPlan}
 */
export function planPushes(options) {
  return buildPlan(normalize(options, { needTarget: false }));
}

/**
 * @param {Normalized} o
 * @returns {SimulatorPlan}
 */
function buildPlan(o) {
  const rng = mulberry32(o.seed);
  // 1. Lifecycles on a relative simulated clock (whole seconds + ms of birth).
  /** @type {Array<{ orderId: string; orderIndex: number; step: number; status: OrderStatus1688; sec: number; bornMs: number }>} */
  const events = [];
  let maxSec = 0;
  o.ids.forEach((orderId, orderIndex) => {
    /** @type {OrderStatus1688[]} */
    let path = LIFECYCLE;
    if (rng() < o.cancelRate) path = rng() < 0.5 ? ['waitbuyerpay', 'cancel'] : ['waitbuyerpay', 'waitsellersend', 'cancel'];
    let sec = Math.floor(rng() * o.orderSpreadSec);
    path.forEach((status, step) => {
      if (step > 0) sec += 1 + Math.floor(rng() * o.stepGapMaxSec);
      events.push({ orderId, orderIndex, step, status, sec, bornMs: Math.floor(rng() * 1000) });
    });
    if (sec > maxSec) maxSec = sec;
  });
  const startTime = o.startTime ?? Math.floor(Date.now() / 1000) * 1000 - (maxSec + 1) * 1000;
  if (o.msgIdBase + events.length > Number.MAX_SAFE_INTEGER) fail('msgIdBase + messages goes past 2^53 - 1');

  // 2. In the order 1688 produced them; msgIds in that order.
  events.sort((a, b) => a.sec - b.sec || a.bornMs - b.bornMs || a.orderIndex - b.orderIndex || a.step - b.step);
  const messages = events.map((e, i) => {
    const eventTime = startTime + e.sec * 1000;
    const msgId = o.msgIdBase + i + 1;
    const type = TOPIC_BY_STATUS[e.status];
    const msgSendTime = formatChinaTime(eventTime);
    const gmtBorn = eventTime + e.bornMs;
    const message = buildMessage({ msgId, type, gmtBorn, userInfo: o.userInfo, orderId: e.orderId, status: e.status, msgSendTime });
    return {
      msgId,
      orderId: e.orderId,
      step: e.step,
      status: e.status,
      type,
      eventTime,
      msgSendTime,
      gmtBorn,
      message,
      body: formBody(o.appSecret, message),
      dropped: false,
    };
  });

  // 2b. Dropped pushes: never delivered, kept by 1688 for pulling. Own PRNG stream, so that the
  // rest of the plan is the same with or without drops.
  const dropRng = mulberry32((o.seed ^ 0x5bd1e995) >>> 0);
  let droppedMessages = 0;
  for (const m of messages) {
    m.dropped = o.dropMsgIds.has(String(m.msgId)) || (o.dropRate > 0 && dropRng() < o.dropRate);
    if (m.dropped) droppedMessages++;
  }

  // 3. Reordering: per order, a later message swaps places with the one before it.
  const sequence = messages.slice();
  /** @type {Map<string, number[]>} */
  const positions = new Map(); // orderId -> positions of its messages, ascending
  sequence.forEach((m, i) => {
    let list = positions.get(m.orderId);
    if (!list) positions.set(m.orderId, (list = []));
    list.push(i);
  });
  for (const orderId of o.ids) {
    const pos = positions.get(orderId) ?? [];
    for (let j = 1; j < pos.length; j++) {
      if (rng() < o.reorderRate) {
        const a = pos[j - 1];
        const b = pos[j];
        [sequence[a], sequence[b]] = [sequence[b], sequence[a]];
      }
    }
  }

  // 4. Duplicates: the same delivery again, 1..DUPLICATE_WINDOW deliveries later.
  /** @type {Array<{ key: number; m: (typeof messages)[number]; duplicate: boolean }>} */
  const keyed = [];
  sequence.forEach((m, i) => {
    keyed.push({ key: i, m, duplicate: false });
    if (rng() < o.duplicateRate) keyed.push({ key: i + 1 + Math.floor(rng() * DUPLICATE_WINDOW) - 0.5, m, duplicate: true });
  });
  keyed.sort((a, b) => a.key - b.key); // stable: ties keep insertion order

  // 5. Deliveries, with the reordering counted as the receiver will see it (originals only).
  /** @type {Map<string, number>} */
  const newestSeen = new Map();
  let reordered = 0;
  let duplicates = 0;
  const deliveries = keyed.map(({ m, duplicate }, index) => {
    let late = false;
    if (duplicate) duplicates++;
    else {
      const newest = newestSeen.get(m.orderId) ?? -Infinity;
      if (m.eventTime < newest) {
        late = true;
        reordered++;
      } else newestSeen.set(m.orderId, m.eventTime);
    }
    return { index, ...m, duplicate, reordered: late };
  });

  /** @type {Record<string, number>} */
  const byStatus = {};
  /** @type {Record<SupplierOrderId, OrderStatus1688>} */
  const lastStatusByOrder = {};
  /** @type {Map<string, number>} */
  const newest = new Map();
  for (const m of messages) {
    byStatus[m.status] = (byStatus[m.status] ?? 0) + 1;
    if ((newest.get(m.orderId) ?? -Infinity) < m.eventTime) {
      newest.set(m.orderId, m.eventTime);
      lastStatusByOrder[m.orderId] = m.status;
    }
  }
  // 6. Status changes at 1688 that are never pushed (applied after the run).
  const silentRng = mulberry32((o.seed ^ 0x27d4eb2f) >>> 0);
  const explicit = new Map(o.silentChanges.map((c) => [c.orderId, c.status]));
  /** @type {SilentChange[]} */
  const silentChanges = [];
  /** @type {Record<SupplierOrderId, string>} */
  const finalStatusAt1688 = { ...lastStatusByOrder };
  for (const orderId of o.ids) {
    const from = lastStatusByOrder[orderId];
    let status = explicit.get(orderId);
    if (status === undefined && o.silentChangeRate > 0 && silentRng() < o.silentChangeRate) status = SILENT_NEXT[from];
    if (status === undefined) continue;
    silentChanges.push({ orderId, from, status });
    finalStatusAt1688[orderId] = status;
  }
  return {
    seed: o.seed,
    startTime,
    msgIdBase: o.msgIdBase,
    orders: o.ids.slice(),
    messages: messages.length,
    duplicates,
    reordered,
    dropped: droppedMessages,
    byStatus,
    lastStatusByOrder,
    silentChanges,
    finalStatusAt1688,
    deliveries,
  };
}

/**
 * The status a silent change (refund, seller's close) gives an order, by its status before: what
 * the simulator's silentChangeRate, chaos scenario 8, the demo and the sweep bench all use.
 * @type {Readonly<Partial<Record<string, string>>>}
 */
export const SILENT_NEXT = Object.freeze({
  waitbuyerpay: 'cancel',
  waitsellersend: 'cancel',
  waitbuyerreceive: 'terminated',
  confirm_goods: 'terminated',
  success: 'terminated',
});

/**
 * Up to `count` silent changes spread evenly over the orders that can take one (SILENT_NEXT),
 * for changeOrderStatuses: the drift the demo and chaos scenario 8 make at the fake 1688.
 * @param {Record<string, string>} statusByOrder 1688's current status of each supplier order
 * @param {number} count
 * @returns {{ orderId: string; status: string; from: string }[]}
 */
export function silentChangesFor(statusByOrder, count) {
  const candidates = Object.entries(statusByOrder).filter(([, status]) => SILENT_NEXT[status] !== undefined);
  const step = Math.max(1, Math.floor(candidates.length / count));
  return candidates
    .filter((_, i) => i % step === 0)
    .slice(0, count)
    .map(([orderId, status]) => ({ orderId, status: /** @type {string} */ (SILENT_NEXT[status]), from: status }));
}

// ---------------------------------------------------------------------------------------------
// Handing what was not delivered to the fake 1688 Open API

/**
 * POSTs JSON to an admin route of a fake-1688-open-api at `base` (its base URL or its /openapi URL).
 * @param {string} base
 * @param {string} path
 * @param {unknown} body
 * @returns {Promise<any>} the parsed answer (its text when not JSON)
 */
function adminPost(base, path, body) {
  const url = new URL(`${base.replace(/\/+$/, '').replace(/\/openapi$/, '')}${path}`);
  const lib = url.protocol === 'https:' ? https : http;
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = lib.request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: { connection: 'close', 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
      },
      (res) => {
        let raw = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (raw += c));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            try {
              resolve(JSON.parse(raw));
            } catch {
              resolve(raw);
            }
          } else reject(new Error(`fake-1688-open-api ${path}: HTTP ${res.statusCode} ${raw.slice(0, 200)}`));
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error(`fake-1688-open-api ${path}: no answer within 30 s`)));
    req.on('error', reject);
    req.end(text);
  });
}

/**
 * @typedef {{
 *   errors: string[];
 *   addMessages(texts: string[]): void;
 *   addOrders(orders: Array<{ id: string; status: string; createTime: number; modifyTime: number }>): Promise<unknown>;
 *   changeStatuses(changes: Array<StatusChange & { orderId: string }>): Promise<Array<{ orderId: SupplierOrderId; status: string; modifyTime: number }>>;
 *   flush(): Promise<unknown>;
 * }} StoreClient
 */

/**
 * One interface over an in-process fake and a fake behind a URL. Messages are batched to the URL
 * (every 20 ms or 500 messages); flush() waits for all of them. Errors are collected, not thrown.
 * @param {OpenApiStore | string} target
 * @returns {StoreClient}
 */
function storeClient(target) {
  /** @type {string[]} */
  const errors = [];
  const note = (/** @type {any} */ error) => {
    if (errors.length < 20) errors.push(String(error?.message ?? error));
  };
  if (typeof target !== 'string') {
    return {
      errors,
      addMessages(texts) {
        try {
          target.addMessages(texts);
        } catch (error) {
          note(error);
        }
      },
      addOrders: async (orders) => target.addOrders(orders),
      changeStatuses: async (changes) =>
        changes.map((c) => {
          const { order } = target.setOrderStatus(c.orderId, c.status, {
            modifyTime: c.modifyTime,
            emitMessage: c.emitMessage,
            type: c.type,
            refundStatus: c.refundStatus,
          });
          return { orderId: order.id, status: order.status, modifyTime: order.modifyTime };
        }),
      flush: async () => {},
    };
  }
  /** @type {string[]} */
  let queue = [];
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  /** @type {Promise<unknown>} */
  let chain = Promise.resolve();
  const flushNow = () => {
    clearTimeout(timer);
    timer = undefined;
    if (queue.length > 0) {
      const batch = queue;
      queue = [];
      chain = chain.then(() => adminPost(target, '/_admin/messages', { messages: batch })).catch(note);
    }
    return chain;
  };
  return {
    errors,
    addMessages(texts) {
      queue.push(...texts);
      if (queue.length >= 500) flushNow();
      else timer ??= setTimeout(flushNow, 20);
    },
    addOrders: (orders) => adminPost(target, '/_admin/orders', { orders }),
    changeStatuses: async (changes) => {
      const body = changes.map((c) => ({
        id: c.orderId,
        status: c.status,
        modifyTime: c.modifyTime,
        emitMessage: c.emitMessage,
        type: c.type,
        refundStatus: c.refundStatus,
      }));
      /** @type {{ changed: Array<{ id: string; status: string; modifyTime: number }> }} */
      const { changed } = await adminPost(target, '/_admin/orders/status', { changes: body });
      return changed.map((c) => ({ orderId: c.id, status: c.status, modifyTime: c.modifyTime }));
    },
    flush: () => flushNow(),
  };
}

/**
 * Changes order statuses at 1688 (the fake's order store) without any push: refunds, a seller
 * closing an order, manual changes. `openApi`: a fake-1688-open-api instance or its base URL.
 * modifyTime defaults to now; emitMessage puts the matching push message into the fake's message
 * store (as 1688 would keep one it could not deliver).
 * @param {OpenApiStore | string} openApi
 * @param {ReadonlyArray<StatusChange>} changes
 * @returns {Promise<Array<{ orderId: SupplierOrderId; status: string; modifyTime: number }>>}
 */
export async function changeOrderStatuses(openApi, changes) {
  if (!Array.isArray(changes)) fail('changes must be an array of {orderId, status}');
  if (typeof openApi !== 'string' && (openApi === null || typeof openApi !== 'object' || typeof openApi.setOrderStatus !== 'function')) {
    fail('openApi must be a fake-1688-open-api instance or its base URL');
  }
  const list = changes.map((c, i) => ({ ...c, orderId: digits(`changes[${i}].orderId`, c?.orderId) }));
  return storeClient(openApi).changeStatuses(list);
}

// ---------------------------------------------------------------------------------------------
// Sending

/**
 * @typedef {SimulatorPlan['deliveries'][number]} Delivery
 * @typedef {{ d: Delivery; attempts: number; lastError: string | undefined }} DeliveryState
 */

/**
 * Plays the pushes against `target` and resolves with the final report. Throws at once on bad options.
 * @param {SimulatorOptions} options
 * @returns {Promise<SimulatorReport>}
 */
export async function runSimulator(options) {
  const o = normalize(options, { needTarget: true });
  const plan = buildPlan(o);
  const url = new URL(o.target);
  const basePath = url.pathname.replace(/\/+$/, '');
  const requestPath = `${basePath}${o.path}${url.search}`;
  const lib = url.protocol === 'https:' ? https : http;
  const agent = new lib.Agent({ keepAlive: true, maxSockets: o.concurrency, maxFreeSockets: o.concurrency });
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;

  const deliveries = plan.deliveries;
  const total = deliveries.length;
  const interval = Number.isFinite(o.rate) && o.rate > 0 ? 1000 / o.rate : 0;
  const stats = { sent: 0, acknowledged: 0, failed: 0, retried: 0, requests: 0, duplicatesSent: 0, dropped: 0, maxScheduleLagMs: 0 };
  /** @type {Record<string, number>} */
  const responses = {};
  /** @type {number[]} */
  const latencies = [];
  /** @type {SimulatorFailure[]} */
  const failures = [];
  /** @type {Map<string, Delivery>} */
  const acked = new Map(); // orderId -> the acknowledged message with the newest msgSendTime
  /** @type {Set<number>} */
  const ackedMsgIds = new Set();
  /** @type {Record<string, number>} */
  const bySentStatus = {};
  /** @type {Map<NodeJS.Timeout, DeliveryState>} */
  const pendingRetries = new Map(); // timer -> delivery state waiting to be re-sent
  const store = o.openApi !== undefined ? storeClient(o.openApi) : undefined;
  /** @type {Set<number>} */
  const handed = new Set(); // msgIds handed to the fake's message store
  const handedByReason = { dropped: 0, failed: 0, notSent: 0 };
  /**
   * @param {Delivery} d
   * @param {keyof typeof handedByReason} reason
   */
  const handOver = (d, reason) => {
    if (ackedMsgIds.has(d.msgId) || handed.has(d.msgId)) return;
    handed.add(d.msgId);
    handedByReason[reason]++;
    store?.addMessages([d.message]);
  };
  let ordersRegistered = 0;
  if (store && o.registerOrders) {
    /** @type {Map<string, { createTime: number; modifyTime: number }>} */
    const times = new Map(); // orderId -> { createTime, modifyTime }
    for (const d of deliveries) {
      if (d.duplicate) continue;
      const t = times.get(d.orderId);
      if (!t) times.set(d.orderId, { createTime: d.eventTime, modifyTime: d.eventTime });
      else {
        t.createTime = Math.min(t.createTime, d.eventTime);
        t.modifyTime = Math.max(t.modifyTime, d.eventTime);
      }
    }
    const orders = plan.orders.map((id) => ({ id, status: plan.lastStatusByOrder[id], createTime: 0, modifyTime: 0, ...times.get(id) }));
    await store.addOrders(orders);
    ordersRegistered = orders.length;
  }
  /** @type {DeliveryState[]} */
  const retryQueue = [];
  let retryHead = 0;
  let active = 0;
  let next = 0;
  let done = 0;
  let aborted = false;
  /** @type {NodeJS.Timeout | undefined} */
  let pumpTimer;
  /** @type {NodeJS.Timeout | undefined} */
  let progressTimer;
  /** @type {() => void} */
  let finish = () => {};
  /** @type {Promise<void>} */
  const finished = new Promise((resolve) => {
    finish = resolve;
  });
  const t0 = performance.now();

  const bump = (/** @type {string} */ label) => {
    responses[label] = (responses[label] ?? 0) + 1;
  };

  /**
   * @param {Delivery} d
   * @param {(status: number | null, error: (Error & { code?: string }) | null, snippet: string | undefined, ms: number) => void} callback
   */
  function post(d, callback) {
    const started = performance.now();
    let settled = false;
    /**
     * @param {number | null} status
     * @param {(Error & { code?: string }) | null} error
     * @param {string} [snippet]
     */
    const settle = (status, error, snippet) => {
      if (settled) return;
      settled = true;
      callback(status, error, snippet, performance.now() - started);
    };
    const req = lib.request(
      {
        hostname,
        port,
        path: requestPath,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(d.body) },
      },
      (res) => {
        let snippet = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          if (snippet.length < 300) snippet += chunk;
        });
        res.on('end', () => settle(res.statusCode ?? 0, null, snippet.slice(0, 300)));
        res.on('error', (error) => settle(null, error));
        res.on('aborted', () => settle(null, new Error('response aborted')));
      },
    );
    req.setTimeout(o.timeoutMs, () => {
      const error = Object.assign(new Error(`no answer within ${o.timeoutMs} ms`), { code: 'ETIMEDOUT' });
      req.destroy(error);
    });
    req.on('error', (error) => settle(null, error));
    req.end(d.body);
  }

  /** @param {DeliveryState} state */
  function attempt(state) {
    if (state.attempts > 0) stats.retried++;
    state.attempts++;
    stats.requests++;
    post(state.d, (status, error, snippet, ms) => {
      release();
      const ok = status !== null && status >= 200 && status < 300;
      bump(status !== null ? String(status) : (error?.code ?? 'error'));
      if (ok) {
        stats.acknowledged++;
        latencies.push(ms);
        const { d } = state;
        ackedMsgIds.add(d.msgId);
        const prev = acked.get(d.orderId);
        if (!prev || prev.eventTime < d.eventTime) acked.set(d.orderId, d);
        complete();
        return;
      }
      state.lastError =
        status !== null ? `HTTP ${status}${snippet ? ` ${snippet}` : ''}` : `${error?.code ?? 'error'}: ${error?.message ?? error}`;
      if (state.attempts <= o.retries && !aborted) {
        const timer = setTimeout(
          () => {
            pendingRetries.delete(timer);
            retryQueue.push(state);
            pump();
          },
          o.retryBaseMs * 2 ** (state.attempts - 1),
        );
        pendingRetries.set(timer, state);
        return;
      }
      giveUp(state);
    });
  }

  /** @param {DeliveryState} state */
  function giveUp(state) {
    stats.failed++;
    if (failures.length < 20)
      failures.push({
        msgId: state.d.msgId,
        orderId: state.d.orderId,
        status: state.d.status,
        attempts: state.attempts,
        lastError: state.lastError ?? 'aborted',
      });
    handOver(state.d, 'failed');
    complete();
  }

  function complete() {
    done++;
    checkDone();
  }

  function release() {
    active--;
    pump();
  }

  function checkDone() {
    if (done === stats.sent && pendingRetries.size === 0 && retryHead === retryQueue.length && (next === total || aborted) && active === 0)
      finish();
  }

  function pump() {
    // Retries first: they are due and 1688 does not hold them back for new messages.
    while (active < o.concurrency && retryHead < retryQueue.length) {
      const state = retryQueue[retryHead++];
      if (aborted) {
        giveUp(state);
        continue;
      }
      active++;
      attempt(state);
    }
    if (retryHead === retryQueue.length && retryHead > 1024) {
      retryQueue.length = 0;
      retryHead = 0;
    }
    if (aborted) return checkDone();
    const now = performance.now();
    while (next < total && active < o.concurrency) {
      const due = t0 + next * interval;
      if (due > now) {
        if (!pumpTimer) {
          pumpTimer = setTimeout(
            () => {
              pumpTimer = undefined;
              pump();
            },
            Math.max(1, Math.ceil(due - now)),
          );
        }
        return;
      }
      if (now - due > stats.maxScheduleLagMs) stats.maxScheduleLagMs = now - due;
      const d = deliveries[next++];
      if (d.dropped) {
        stats.dropped++;
        handOver(d, 'dropped');
        continue;
      }
      stats.sent++;
      if (d.duplicate) stats.duplicatesSent++;
      bySentStatus[d.status] = (bySentStatus[d.status] ?? 0) + (d.duplicate ? 0 : 1);
      active++;
      attempt({ d, attempts: 0, lastError: undefined });
    }
    checkDone();
  }

  const snapshot = () => {
    const elapsedMs = performance.now() - t0;
    return {
      elapsedMs: Math.round(elapsedMs),
      total,
      sent: stats.sent,
      acknowledged: stats.acknowledged,
      failed: stats.failed,
      retried: stats.retried,
      inFlight: active,
      pendingRetries: pendingRetries.size + (retryQueue.length - retryHead),
      ratePerSec: elapsedMs > 0 ? round2((stats.sent * 1000) / elapsedMs) : 0,
    };
  };
  if (o.onProgress) {
    progressTimer = setInterval(() => {
      try {
        o.onProgress?.(snapshot());
      } catch {
        // a failing progress callback must not stop the run
      }
    }, o.progressIntervalMs);
  }

  const onAbort = () => {
    if (aborted) return;
    aborted = true;
    clearTimeout(pumpTimer);
    pumpTimer = undefined;
    // Deliveries waiting for a retry give up now; in-flight requests finish.
    const waiting = [...pendingRetries];
    pendingRetries.clear();
    for (const [timer, state] of waiting) {
      clearTimeout(timer);
      giveUp(state);
    }
    pump();
  };
  if (o.signal) {
    if (o.signal.aborted) onAbort();
    else o.signal.addEventListener('abort', onAbort, { once: true });
  }

  pump();
  await finished;
  clearInterval(progressTimer);
  clearTimeout(pumpTimer);
  o.signal?.removeEventListener?.('abort', onAbort);
  agent.destroy();

  // What never got a 2xx and was not handed over yet (never started: an abort) goes to 1688's
  // store too; then the changes at 1688 that are never pushed.
  for (const d of deliveries) if (!d.duplicate) handOver(d, 'notSent');
  /** @type {SimulatorReport['silentChanges']} */
  let silentChanges = [];
  if (store && plan.silentChanges.length > 0) {
    const lastEvent = deliveries.reduce((max, d) => Math.max(max, d.eventTime), 0);
    const modifyTime = Math.max(Date.now(), lastEvent + 1000);
    const applied = await store.changeStatuses(plan.silentChanges.map((c) => ({ orderId: c.orderId, status: c.status, modifyTime })));
    silentChanges = plan.silentChanges.map((c, i) => ({ ...c, modifyTime: applied[i].modifyTime }));
  }
  await store?.flush();

  const elapsedMs = performance.now() - t0;
  latencies.sort((a, b) => a - b);
  /** @type {Record<SupplierOrderId, OrderStatus1688>} */
  const lastStatusByOrder = {};
  for (const id of plan.orders) {
    const d = acked.get(id);
    if (d) lastStatusByOrder[id] = d.status;
  }
  return {
    target: `${url.origin}${requestPath}`,
    seed: plan.seed,
    startTime: plan.startTime,
    msgIdBase: plan.msgIdBase,
    orders: plan.orders.length,
    messages: plan.messages,
    sent: stats.sent,
    acknowledged: stats.acknowledged,
    acknowledgedMessages: ackedMsgIds.size,
    failed: stats.failed,
    retried: stats.retried,
    requests: stats.requests,
    duplicatesSent: stats.duplicatesSent,
    reordered: plan.reordered,
    notSent: total - stats.sent - stats.dropped,
    dropped: stats.dropped,
    droppedMessages: plan.dropped,
    unacknowledgedMessages: plan.messages - ackedMsgIds.size,
    handedToStore: handed.size,
    handedToStoreByReason: handedByReason,
    storeErrors: store?.errors ?? [],
    ordersRegistered,
    silentChanges,
    finalStatusAt1688: store ? plan.finalStatusAt1688 : plan.lastStatusByOrder,
    aborted,
    byStatus: bySentStatus,
    lastStatusByOrder,
    ackLatencyMs: {
      p50: round2(percentile(latencies, 50)),
      p90: round2(percentile(latencies, 90)),
      p99: round2(percentile(latencies, 99)),
      max: round2(latencies.length ? latencies[latencies.length - 1] : 0),
    },
    responses,
    failures,
    elapsedMs: Math.round(elapsedMs),
    ratePerSec: elapsedMs > 0 ? round2((stats.sent * 1000) / elapsedMs) : 0,
    maxScheduleLagMs: Math.round(stats.maxScheduleLagMs),
  };
}

// ---------------------------------------------------------------------------------------------
// CLI

const USAGE = `usage: node tools/simulator-1688.mjs --target URL --secret S (--count N [--id-base N] | --ids A,B,... | --ids-file F) [flags]
  --target URL           ordersync base URL (default http://127.0.0.1:3000); pushes go to URL/webhooks/1688
  --path P               push path (default /webhooks/1688)
  --secret S             app secret for _aop_signature (default: $ALIBABA_APP_SECRET)
  --count N              N orders with ids id-base + 1 .. id-base + N (as the fake supplier API answers)
  --id-base N            default ${DEFAULT_ID_BASE}
  --ids A,B,...          explicit supplier order ids (digits)    --ids-file F  ids separated by spaces, commas or lines
  --rate R               deliveries per second, open loop (default 100; 0 = unpaced)
  --concurrency N        requests in flight at most (default 16)
  --duplicate-rate P     share of messages sent twice with the same msgId (default 0)
  --reorder-rate P       chance a later message of an order overtakes the one before it (default 0)
  --cancel-rate P        share of orders that end in cancel after 1-2 steps (default 0.1)
  --retries N            re-sends of a non-2xx or network error (default 3)
  --retry-base-ms MS     first retry gap; then x2, x4 ... (default 200)
  --timeout-ms MS        per request (default 10000)
  --seed N               PRNG seed (uint32; random by default, printed in the report)
  --start-time T         simulated clock start (ms or ISO; default: the timeline ends just before now)
  --order-spread-sec N   orders start within N simulated seconds (default 3600)
  --step-gap-max-sec N   each next status 1..N simulated seconds later (default 600)
  --msg-id-base N        msgIds are N+1, N+2, ... (default: unix seconds x 1e6)
  --open-api URL         a fake-1688-open-api (base URL): orders registered there, every message with
                         no acknowledged delivery handed to its message store (for pulling)
  --drop-rate P          share of messages never pushed at all (default 0)
  --drop-msg-ids A,B     these msgIds are never pushed
  --silent-change-rate P share of orders whose status changes at 1688 after the run, with no push
  --json                 final report as JSON on stdout      --quiet  no progress lines
  --plan                 print the planned deliveries as JSON lines and send nothing
Progress goes to stderr, at most one line per second. Exit 0 when every delivery was acknowledged,
1 when some failed or the run was interrupted, 2 on bad flags.`;

const FLAGS = {
  target: 'target',
  path: 'path',
  secret: 'appSecret',
  count: 'count',
  'id-base': 'idBase',
  ids: 'ids',
  'ids-file': 'idsFile',
  rate: 'rate',
  concurrency: 'concurrency',
  'duplicate-rate': 'duplicateRate',
  'reorder-rate': 'reorderRate',
  'cancel-rate': 'cancelRate',
  retries: 'retries',
  'retry-base-ms': 'retryBaseMs',
  'timeout-ms': 'timeoutMs',
  seed: 'seed',
  'start-time': 'startTime',
  'msg-id-base': 'msgIdBase',
  'order-spread-sec': 'orderSpreadSec',
  'step-gap-max-sec': 'stepGapMaxSec',
  'open-api': 'openApi',
  'drop-rate': 'dropRate',
  'drop-msg-ids': 'dropMsgIds',
  'silent-change-rate': 'silentChangeRate',
};
const SWITCHES = new Set(['json', 'quiet', 'plan', 'help']);

/**
 * Parses CLI flags (--name value or --name=value). Throws on unknown or incomplete flags.
 * @param {string[]} argv
 * @param {Record<string, string | undefined>} [env]
 * @returns {{ options: Partial<SimulatorOptions> & { target: string; appSecret: string | undefined }; json: boolean; quiet: boolean; plan: boolean; help: boolean }}
 */
export function parseCliArgs(argv, env = process.env) {
  /** @type {Record<string, string>} */
  const raw = {};
  /** @type {Record<'json' | 'quiet' | 'plan' | 'help', boolean>} */
  const switches = { json: false, quiet: false, plan: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const flag = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    if (SWITCHES.has(flag)) {
      if (eq >= 0) throw new Error(`--${flag} takes no value`);
      switches[/** @type {keyof typeof switches} */ (flag)] = true;
      continue;
    }
    const name = /** @type {Record<string, string | undefined>} */ (FLAGS)[flag];
    if (!name) throw new Error(`unknown flag --${flag}`);
    let value;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (i + 1 < argv.length) value = argv[++i];
    else throw new Error(`--${flag} needs a value`);
    raw[name] = value;
  }
  /** @type {Record<string, unknown> & { target: string; appSecret: string | undefined }} */
  const options = {
    target: raw.target ?? 'http://127.0.0.1:3000',
    appSecret: raw.appSecret ?? env.ALIBABA_APP_SECRET,
  };
  for (const name of ['path', 'idBase', 'startTime', 'openApi']) {
    if (raw[name] !== undefined) options[name] = raw[name];
  }
  if (raw.dropMsgIds !== undefined) options.dropMsgIds = raw.dropMsgIds.split(/[\s,]+/).filter(Boolean);
  for (const name of [
    'count',
    'rate',
    'concurrency',
    'duplicateRate',
    'reorderRate',
    'cancelRate',
    'retries',
    'retryBaseMs',
    'timeoutMs',
    'seed',
    'msgIdBase',
    'orderSpreadSec',
    'stepGapMaxSec',
    'dropRate',
    'silentChangeRate',
  ]) {
    if (raw[name] === undefined) continue;
    const n = raw[name].trim() === '' ? NaN : Number(raw[name]);
    options[name] = Number.isNaN(n) ? raw[name] : n; // a bad value is reported as typed
  }
  const idText = [raw.ids, raw.idsFile !== undefined ? readFileSync(raw.idsFile, 'utf8') : undefined]
    .filter((t) => t !== undefined)
    .join(',');
  if (raw.ids !== undefined || raw.idsFile !== undefined) options.ids = idText.split(/[\s,]+/).filter(Boolean);
  if (!switches.help) {
    // Validate now so that bad flags exit 2 before anything is sent.
    if (!options.appSecret) throw new Error('--secret (or ALIBABA_APP_SECRET) is required');
    if (options.ids === undefined && options.count === undefined) throw new Error('give --count, --ids or --ids-file');
    normalize(/** @type {Partial<SimulatorOptions>} */ ({ ...options, seed: options.seed ?? 0 }), { needTarget: true });
  }
  return { options, ...switches };
}

/** @param {SimulatorReport} report */
function summary(report) {
  const counts = (/** @type {Record<string, number>} */ record) =>
    Object.entries(record)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
  /** @type {Record<string, number>} */
  const last = {};
  for (const status of Object.values(report.lastStatusByOrder)) last[status] = (last[status] ?? 0) + 1;
  const lines = [
    `simulator-1688 ${report.aborted ? 'interrupted' : 'done'}: ${report.orders} orders, ${report.messages} messages -> ${report.target}`,
    `  sent=${report.sent} (duplicates ${report.duplicatesSent}) acknowledged=${report.acknowledged} failed=${report.failed} retried=${report.retried} reordered=${report.reordered} notSent=${report.notSent}`,
    `  ${(report.elapsedMs / 1000).toFixed(1)} s, ${report.ratePerSec} deliveries/s, ack latency p50 ${report.ackLatencyMs.p50} ms p99 ${report.ackLatencyMs.p99} ms, max schedule lag ${report.maxScheduleLagMs} ms`,
    `  responses: ${counts(report.responses)}`,
    `  by status: ${counts(report.byStatus)}`,
    `  last status by order: ${counts(last)}`,
    `  replay with: --seed ${report.seed} --start-time ${report.startTime} --msg-id-base ${report.msgIdBase}`,
  ];
  if (report.dropped > 0 || report.handedToStore > 0 || report.ordersRegistered > 0) {
    lines.push(
      `  1688 keeps for pulling: ${report.handedToStore} messages (${counts(report.handedToStoreByReason)}; ${report.droppedMessages} dropped), ` +
        `${report.ordersRegistered} orders registered, ${report.silentChanges.length} silent status changes`,
    );
  }
  for (const e of report.storeErrors) lines.push(`  store error: ${e}`);
  for (const f of report.failures)
    lines.push(`  failed: msgId ${f.msgId} order ${f.orderId} ${f.status} after ${f.attempts} attempts: ${f.lastError}`);
  return `${lines.join('\n')}\n`;
}

async function main() {
  let cli;
  try {
    cli = parseCliArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`simulator-1688: ${String(/** @type {Error} */ (error).message).replace(/^simulator-1688: /, '')}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (cli.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (cli.plan) {
    const plan = planPushes({ ...cli.options, appSecret: cli.options.appSecret ?? '' });
    for (const d of plan.deliveries) {
      const { body: _body, ...line } = d;
      process.stdout.write(`${JSON.stringify(line)}\n`);
    }
    return;
  }
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    if (++interrupts > 1) process.exit(130);
    process.stderr.write('simulator-1688: interrupted, waiting for requests in flight (again to quit now)\n');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const onProgress = cli.quiet
    ? undefined
    : (/** @type {SimulatorProgress} */ p) =>
        process.stderr.write(
          `simulator-1688: ${(p.elapsedMs / 1000).toFixed(1)}s sent=${p.sent}/${p.total} acknowledged=${p.acknowledged} failed=${p.failed} retried=${p.retried} inFlight=${p.inFlight} retrying=${p.pendingRetries} rate=${p.ratePerSec}/s\n`,
        );
  const report = await runSimulator({
    ...cli.options,
    appSecret: cli.options.appSecret ?? '',
    onProgress,
    progressIntervalMs: 1000,
    signal: controller.signal,
  });
  const text = cli.json ? `${JSON.stringify(report, null, 2)}\n` : summary(report);
  process.exitCode = report.failed === 0 && !report.aborted ? 0 : 1;
  process.stdout.write(text);
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
