// @ts-check
// The two stores of the fake 1688 Open API (tools/fake-1688-open-api.mjs): the messages 1688
// holds for the app (push.query.messageList / push.message.confirm) and the buyer's orders
// (alibaba.trade.getBuyerOrderList / alibaba.trade.get.buyerView). Ids are digit strings
// throughout and answers are JSON text built by hand, so ids above 2^53 keep every digit.

import { compareDigits, digitsOf, formatAliDate } from './fake-1688-util.mjs';

// ---------------------------------------------------------------------------------------------
// Messages

/**
 * One message as 1688 holds it.
 * @typedef {object} StoredMessage
 * @property {string} msgId digits
 * @property {string} type topic
 * @property {number} gmtBorn ms
 * @property {string} text the message JSON text, exactly as it is answered
 * @property {boolean} confirmed
 * @property {number} seq insertion order (tie-break after gmtBorn and msgId)
 */

/**
 * A message as the tests see it.
 * @typedef {object} MessageView
 * @property {string} msgId
 * @property {string} type
 * @property {number} gmtBorn
 * @property {boolean} confirmed
 * @property {boolean} expired older than the retention: gone from the API
 * @property {number} confirms confirm calls that named this msgId
 * @property {string} text
 */

/** @param {StoredMessage} a @param {StoredMessage} b */
const byBorn = (a, b) => a.gmtBorn - b.gmtBorn || compareDigits(a.msgId, b.msgId) || a.seq - b.seq;

/**
 * Reads msgId, type and gmtBorn out of a message's JSON text (msgId from the text itself, so a
 * long msgId keeps its digits). Throws when the text is not such a message.
 * @param {string} text
 * @returns {{ msgId: string, type: string, gmtBorn: number }}
 */
export function messageFields(text) {
  if (typeof text !== 'string') throw new Error('a message must be given as its JSON text');
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`message is not JSON: ${text.slice(0, 80)}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('message must be a JSON object');
  const msgId = topLevelDigits(text, 'msgId');
  if (!msgId) throw new Error(`message has no top-level numeric msgId: ${text.slice(0, 80)}`);
  if (typeof parsed.type !== 'string' || parsed.type === '') throw new Error(`message ${msgId} has no type`);
  if (!Number.isSafeInteger(parsed.gmtBorn)) throw new Error(`message ${msgId} has no gmtBorn (ms)`);
  return { msgId, type: parsed.type, gmtBorn: parsed.gmtBorn };
}

/**
 * The digits of a top-level member of a JSON object text (a number, or a string of digits),
 * read from the text so that no digit is lost. Undefined when there is none.
 * @param {string} text valid JSON
 * @param {string} key
 * @returns {string | undefined}
 */
export function topLevelDigits(text, key) {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const name = text.slice(i + 1, j);
      i = j;
      if (depth !== 1 || name !== key) continue;
      const m = /^\s*:\s*"?(\d{1,19})"?/.exec(text.slice(j + 1, j + 64));
      if (m) return m[1].replace(/^0+(?=\d)/, '');
    }
  }
  return undefined;
}

export class MessageStore {
  constructor() {
    /** @type {StoredMessage[]} kept sorted by gmtBorn, msgId (lazily) */
    this.entries = [];
    /** @type {Map<string, StoredMessage>} */
    this.byId = new Map();
    /** @type {Map<string, number>} confirm calls per msgId (unknown ids included) */
    this.confirms = new Map();
    this.sorted = true;
    this.seq = 0;
    this.pending = 0;
    this.confirmedCount = 0;
    this.removed = 0;
  }

  /**
   * Adds a message (its JSON text). A msgId the store already holds is ignored.
   * @param {string} text
   * @returns {boolean} whether it was added
   */
  add(text) {
    const { msgId, type, gmtBorn } = messageFields(text);
    if (this.byId.has(msgId)) return false;
    /** @type {StoredMessage} */
    const entry = { msgId, type, gmtBorn, text, confirmed: false, seq: this.seq++ };
    const last = this.entries[this.entries.length - 1];
    if (last && byBorn(last, entry) > 0) this.sorted = false;
    this.entries.push(entry);
    this.byId.set(msgId, entry);
    this.pending++;
    return true;
  }

  /** @private */
  ensureSorted() {
    if (this.removed > 1024 && this.removed * 2 > this.entries.length) {
      this.entries = this.entries.filter((e) => !e.confirmed);
      this.removed = 0;
    }
    if (!this.sorted) {
      this.entries.sort(byBorn);
      this.sorted = true;
    }
  }

  /**
   * One page of the unconfirmed messages born in [start, end] (and after the retention cutoff),
   * oldest first, and how many there are in all.
   * @param {{ start?: number, end?: number, type?: string, page: number, pageSize: number, cutoff: number }} q
   * @returns {{ texts: string[], total: number }}
   */
  query(q) {
    this.ensureSorted();
    const from = Math.max(q.start ?? -Infinity, q.cutoff);
    const to = q.end ?? Infinity;
    const entries = this.entries;
    let lo = 0;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (entries[mid].gmtBorn < from) lo = mid + 1;
      else hi = mid;
    }
    const skip = (q.page - 1) * q.pageSize;
    /** @type {string[]} */
    const texts = [];
    let total = 0;
    for (let i = lo; i < entries.length && entries[i].gmtBorn <= to; i++) {
      const e = entries[i];
      if (e.confirmed || (q.type && e.type !== q.type)) continue;
      if (total >= skip && texts.length < q.pageSize) texts.push(e.text);
      total++;
    }
    return { texts, total };
  }

  /**
   * Confirms msgIds: each one named counts as a confirm call for it, known or not, confirmed
   * before or not.
   * @param {string[]} ids
   * @returns {number} messages that became confirmed
   */
  confirm(ids) {
    let n = 0;
    for (const id of ids) {
      this.confirms.set(id, (this.confirms.get(id) ?? 0) + 1);
      const e = this.byId.get(id);
      if (e && !e.confirmed) {
        e.confirmed = true;
        this.pending--;
        this.confirmedCount++;
        this.removed++;
        n++;
      }
    }
    return n;
  }

  /**
   * Unconfirmed messages still within the retention.
   * @param {number} cutoff gmtBorn below which messages are gone
   * @returns {number}
   */
  pendingCount(cutoff) {
    let expired = 0;
    for (const e of this.entries) if (!e.confirmed && e.gmtBorn < cutoff) expired++;
    return this.pending - expired;
  }

  /**
   * Every message held, oldest first.
   * @param {{ cutoff: number, pendingOnly?: boolean }} options
   * @returns {MessageView[]}
   */
  list({ cutoff, pendingOnly = false }) {
    this.ensureSorted();
    /** @type {MessageView[]} */
    const out = [];
    for (const e of [...this.byId.values()].sort(byBorn)) {
      const expired = e.gmtBorn < cutoff;
      if (pendingOnly && (e.confirmed || expired)) continue;
      out.push({
        msgId: e.msgId,
        type: e.type,
        gmtBorn: e.gmtBorn,
        confirmed: e.confirmed,
        expired,
        confirms: this.confirms.get(e.msgId) ?? 0,
        text: e.text,
      });
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Orders

/**
 * A buyer order at 1688.
 * @typedef {object} Order1688
 * @property {string} id digits (above 2^53 as a rule)
 * @property {string} status e.g. waitbuyerpay, waitsellersend, success, cancel, terminated
 * @property {number} createTime ms
 * @property {number} modifyTime ms
 * @property {string} buyerMemberId
 * @property {string} sellerMemberId
 * @property {string | undefined} refundStatus e.g. waitselleragree, refundsuccess
 */

/**
 * What addOrders takes for each order.
 * @typedef {object} OrderInput
 * @property {string | bigint | number} id digits; a number only when a safe integer
 * @property {string} [status] default waitbuyerpay
 * @property {number} [createTime] ms, default now
 * @property {number} [modifyTime] ms, default createTime
 * @property {string} [buyerMemberId] default b2b-1
 * @property {string} [sellerMemberId] default b2b-2
 * @property {string} [refundStatus]
 */

/**
 * Filter and page of getBuyerOrderList.
 * @typedef {object} OrderQuery
 * @property {number} [modifyStart] ms, inclusive
 * @property {number} [modifyEnd] ms, inclusive
 * @property {number} [createStart]
 * @property {number} [createEnd]
 * @property {string} [status]
 * @property {number} page from 1
 * @property {number} pageSize
 * @property {'createTimeDesc' | 'modifyTimeAsc'} sort
 */

/** @param {Order1688} a @param {Order1688} b */
const byCreateDesc = (a, b) => b.createTime - a.createTime || compareDigits(b.id, a.id);
/** @param {Order1688} a @param {Order1688} b */
const byModifyAsc = (a, b) => a.modifyTime - b.modifyTime || compareDigits(a.id, b.id);

export class OrderStore {
  constructor() {
    /** @type {Map<string, Order1688>} */
    this.byId = new Map();
    /** @type {Order1688[]} sorted by createTime desc (lazily) */
    this.byCreate = [];
    this.sorted = true;
    this.version = 0;
    /** @type {{ key: string, version: number, matches: Order1688[] } | null} */
    this.cache = null;
  }

  get size() {
    return this.byId.size;
  }

  /**
   * Adds orders, or replaces the ones already there (same id).
   * @param {OrderInput[]} inputs
   * @param {number} now
   * @returns {{ added: number, replaced: number }}
   */
  upsert(inputs, now) {
    let added = 0;
    let replaced = 0;
    const prepared = inputs.map((input, i) => {
      if (input === null || typeof input !== 'object') throw new Error(`orders[${i}] must be an object`);
      const id = digitsOf(`orders[${i}].id`, input.id);
      const createTime = input.createTime ?? now;
      const modifyTime = input.modifyTime ?? createTime;
      if (!Number.isSafeInteger(createTime) || !Number.isSafeInteger(modifyTime))
        throw new Error(`orders[${i}]: createTime and modifyTime are epoch ms`);
      const status = input.status ?? 'waitbuyerpay';
      if (typeof status !== 'string' || status === '') throw new Error(`orders[${i}].status must be a non-empty string`);
      return /** @type {Order1688} */ ({
        id,
        status,
        createTime,
        modifyTime,
        buyerMemberId: input.buyerMemberId ?? 'b2b-1',
        sellerMemberId: input.sellerMemberId ?? 'b2b-2',
        refundStatus: input.refundStatus,
      });
    });
    for (const order of prepared) {
      const old = this.byId.get(order.id);
      if (old) {
        Object.assign(old, order);
        replaced++;
        if (old.createTime !== order.createTime) this.sorted = false;
      } else {
        this.byId.set(order.id, order);
        const last = this.byCreate[this.byCreate.length - 1];
        if (last && byCreateDesc(last, order) > 0) this.sorted = false;
        this.byCreate.push(order);
        added++;
      }
    }
    this.version++;
    return { added, replaced };
  }

  /**
   * `count` orders with ids idBase + 1 .. idBase + count (as the fake supplier API and the push
   * simulator number them), created one `stepMs` apart ending at `createEnd`.
   * @param {{ count: number, idBase: string, status: string, createEnd: number, stepMs: number }} s
   * @returns {{ first: string, last: string, count: number }}
   */
  seed({ count, idBase, status, createEnd, stepMs }) {
    const base = BigInt(idBase);
    /** @type {OrderInput[]} */
    const inputs = new Array(count);
    for (let i = 0; i < count; i++) {
      const createTime = createEnd - (count - 1 - i) * stepMs;
      inputs[i] = { id: String(base + BigInt(i + 1)), status, createTime, modifyTime: createTime };
    }
    this.upsert(inputs, createEnd);
    return { first: String(base + 1n), last: String(base + BigInt(count)), count };
  }

  /**
   * Changes an order's status at `modifyTime` (default: now, and always later than before).
   * @param {string} id
   * @param {string} status
   * @param {{ modifyTime?: number, refundStatus?: string, now: number }} options
   * @returns {Order1688}
   */
  setStatus(id, status, { modifyTime, refundStatus, now }) {
    const order = this.byId.get(id);
    if (!order) throw new Error(`no order ${id} at 1688`);
    if (typeof status !== 'string' || status === '') throw new Error('status must be a non-empty string');
    order.status = status;
    order.modifyTime = modifyTime ?? Math.max(now, order.modifyTime + 1);
    if (refundStatus !== undefined) order.refundStatus = refundStatus;
    this.version++;
    return order;
  }

  /**
   * @param {string} id
   * @returns {Order1688 | undefined}
   */
  get(id) {
    return this.byId.get(id);
  }

  /**
   * One page of getBuyerOrderList and the total. The matches of one filter are cached until
   * an order changes, so paging through 100,000 orders stays cheap.
   * @param {OrderQuery} q
   * @returns {{ orders: Order1688[], total: number }}
   */
  query(q) {
    const key = JSON.stringify([q.modifyStart, q.modifyEnd, q.createStart, q.createEnd, q.status, q.sort]);
    let matches;
    if (this.cache && this.cache.key === key && this.cache.version === this.version) matches = this.cache.matches;
    else {
      if (!this.sorted) {
        this.byCreate.sort(byCreateDesc);
        this.sorted = true;
      }
      const [ms, me, cs, ce] = [q.modifyStart ?? -Infinity, q.modifyEnd ?? Infinity, q.createStart ?? -Infinity, q.createEnd ?? Infinity];
      matches = this.byCreate.filter(
        (o) => o.modifyTime >= ms && o.modifyTime <= me && o.createTime >= cs && o.createTime <= ce && (!q.status || o.status === q.status),
      );
      if (q.sort === 'modifyTimeAsc') matches.sort(byModifyAsc);
      this.cache = { key, version: this.version, matches };
    }
    const from = (q.page - 1) * q.pageSize;
    return { orders: matches.slice(from, from + q.pageSize), total: matches.length };
  }

  /**
   * Every order, newest created first (a copy).
   * @returns {Order1688[]}
   */
  list() {
    if (!this.sorted) {
      this.byCreate.sort(byCreateDesc);
      this.sorted = true;
    }
    return this.byCreate.map((o) => ({ ...o }));
  }
}

/**
 * The `baseInfo` JSON text of an order: `id` a bare number, digit for digit, `idOfStr` the same
 * as a string, dates `yyyyMMddHHmmssSSS+0800`. `omit` drops fields (a "missing fields" fault).
 * @param {Order1688} o
 * @param {ReadonlySet<string>} [omit]
 * @returns {string}
 */
export function baseInfoJson(o, omit) {
  /** @type {[string, string][]} */
  const fields = [
    ['id', o.id],
    ['idOfStr', JSON.stringify(o.id)],
    ['status', JSON.stringify(o.status)],
    ['createTime', JSON.stringify(formatAliDate(o.createTime))],
    ['modifyTime', JSON.stringify(formatAliDate(o.modifyTime))],
    ['buyerID', JSON.stringify(o.buyerMemberId)],
    ['sellerID', JSON.stringify(o.sellerMemberId)],
    ['businessType', '"cn"'],
    ['tradeType', '"50060"'],
  ];
  if (o.refundStatus !== undefined) fields.push(['refundStatus', JSON.stringify(o.refundStatus)]);
  return `{${fields
    .filter(([k]) => !omit?.has(k))
    .map(([k, v]) => `"${k}":${v}`)
    .join(',')}}`;
}
