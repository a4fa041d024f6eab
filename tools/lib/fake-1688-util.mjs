// @ts-check
// Helpers of the fake 1688 Open API (tools/fake-1688-open-api.mjs): 1688's signature, its date
// format, form and id-list parsing and an exact sliding one-second window (the seeded PRNG is
// tools/lib/harness-prng.mjs).
// Plain Node ESM, `node:` built-ins only.

import { createHmac, timingSafeEqual } from 'node:crypto';

const CHINA_OFFSET_MS = 8 * 3600 * 1000;

/**
 * Parameters as 1688 signs them: names to (decoded) values. Iterables of pairs work too.
 * @typedef {Record<string, string> | Iterable<[string, string]>} SignParams
 */

/**
 * The text 1688 signs: urlPath + the `key + value` strings of every parameter but
 * `_aop_signature`, sorted as whole strings (by UTF-16 code unit, as Java and JS compare).
 * @param {string} urlPath `param2/1/{namespace}/{api}/{appKey}`, or '' for a push.
 * @param {SignParams} params
 * @returns {string}
 */
export function signedText(urlPath, params) {
  const entries = Symbol.iterator in params ? [.../** @type {Iterable<[string, string]>} */ (params)] : Object.entries(params);
  const pieces = [];
  for (const [key, value] of entries) if (key !== '_aop_signature') pieces.push(key + value);
  pieces.sort();
  return urlPath + pieces.join('');
}

/**
 * 1688's `_aop_signature`: HEX UPPER HMAC-SHA1(secret, signedText(urlPath, params)), over UTF-8.
 * @param {string} secret app secret
 * @param {string} urlPath see signedText
 * @param {SignParams} params
 * @returns {string}
 */
export function signParams(secret, urlPath, params) {
  return createHmac('sha1', secret).update(signedText(urlPath, params), 'utf8').digest('hex').toUpperCase();
}

/**
 * Compares a given signature with the right one: case-insensitive, constant time.
 * @param {string} expected upper-case hex
 * @param {string | undefined | null} given
 * @returns {boolean}
 */
export function signatureMatches(expected, given) {
  if (typeof given !== 'string' || !/^[0-9a-fA-F]{40}$/.test(given)) return false;
  return timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(given, 'hex'));
}

/**
 * `yyyyMMddHHmmssSSS+0800`, China time, as 1688 writes dates.
 * @param {number} ms epoch milliseconds
 * @returns {string}
 */
export function formatAliDate(ms) {
  const d = new Date(ms + CHINA_OFFSET_MS);
  /** @param {number} n @param {number} [w] */
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return (
    `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}` +
    `${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}${p(d.getUTCMilliseconds(), 3)}+0800`
  );
}

/**
 * Reads a date parameter: epoch ms (up to 13 digits), or `yyyyMMddHHmmss[SSS][+-]hhmm` (the
 * documented form; without a zone it is China time). Null when it is neither.
 * @param {string} text
 * @returns {{ ms: number, form: 'ms' | 'date' } | null}
 */
export function parseAliDate(text) {
  const s = text.trim();
  if (/^\d{1,13}$/.test(s)) return { ms: Number(s), form: 'ms' };
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{3})?([+-])?(\d{2})?(\d{2})?$/.exec(s);
  if (!m || (m[8] !== undefined && m[10] === undefined)) return null;
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number);
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59) return null;
  const offsetMin = m[8] === undefined ? 480 : (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10]));
  const ms = Date.UTC(y, mo - 1, d, h, mi, se, Number(m[7] ?? 0)) - offsetMin * 60_000;
  return Number.isFinite(ms) ? { ms, form: 'date' } : null;
}

/**
 * `msgIdList` as 1688 takes it: `[id,id,...]` (numbers or strings), or bare `id,id`. Ids come
 * back as digit strings, every digit kept. Null when the text is not such a list.
 * @param {string} text
 * @returns {string[] | null}
 */
export function parseIdList(text) {
  let s = text.trim();
  if (s.startsWith('[')) {
    if (!s.endsWith(']')) return null;
    s = s.slice(1, -1).trim();
  }
  if (s === '') return [];
  const ids = [];
  for (const raw of s.split(',')) {
    const m = /^\s*"?\s*(\d{1,19})\s*"?\s*$/.exec(raw);
    if (!m) return null;
    ids.push(m[1].replace(/^0+(?=\d)/, ''));
  }
  return ids;
}

/**
 * Form or query text to its parameters: the first value of each name wins (as a Java servlet's
 * getParameter), query parameters before body parameters.
 * @param {...string} texts
 * @returns {Map<string, string>}
 */
export function parseParams(...texts) {
  /** @type {Map<string, string>} */
  const out = new Map();
  for (const text of texts) {
    for (const [key, value] of new URLSearchParams(text)) if (!out.has(key)) out.set(key, value);
  }
  return out;
}

/**
 * Compares two digit strings as the numbers they write (no leading zeros).
 * @param {string} a
 * @param {string} b
 * @returns {number}
 */
export function compareDigits(a, b) {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A positive integer written in digits (string, bigint or safe integer) as a digit string.
 * @param {string} name for the error
 * @param {unknown} value
 * @returns {string}
 */
export function digitsOf(name, value) {
  if (typeof value === 'number' && !Number.isSafeInteger(value))
    throw new Error(`${name} ${value} is not a safe integer: pass it as a string to keep every digit`);
  const text = typeof value === 'string' ? value.trim() : typeof value === 'bigint' || typeof value === 'number' ? String(value) : '';
  if (!/^[1-9]\d{0,18}$/.test(text))
    throw new Error(`${name} must be a positive integer of at most 19 digits, got ${JSON.stringify(String(value))}`);
  return text;
}

/**
 * Exact sliding one-second window over event times (ms, monotonic): a ring buffer of the times
 * in the last second. `max` is the most events ever seen in any window (t - 1000 ms, t].
 */
export class SlidingWindow {
  constructor() {
    /** @type {Float64Array} */
    this.times = new Float64Array(256);
    this.head = 0;
    this.size = 0;
    this.max = 0;
  }

  /**
   * Drops times that left the window ending at `now`; returns how many are left.
   * @param {number} now
   * @returns {number}
   */
  count(now) {
    const mask = this.times.length - 1;
    while (this.size > 0 && this.times[this.head] <= now - 1000) {
      this.head = (this.head + 1) & mask;
      this.size--;
    }
    return this.size;
  }

  /**
   * Records an event at `now`; returns the count in the window, this event included.
   * @param {number} now
   * @returns {number}
   */
  hit(now) {
    this.count(now);
    if (this.size === this.times.length) {
      const bigger = new Float64Array(this.times.length * 2);
      const mask = this.times.length - 1;
      for (let i = 0; i < this.size; i++) bigger[i] = this.times[(this.head + i) & mask];
      this.times = bigger;
      this.head = 0;
    }
    this.times[(this.head + this.size) & (this.times.length - 1)] = now;
    this.size++;
    if (this.size > this.max) this.max = this.size;
    return this.size;
  }
}

/**
 * Reads a request body as UTF-8 text; null when it goes past `limit` bytes.
 * @param {import('node:http').IncomingMessage} req
 * @param {number} limit
 * @returns {Promise<string | null>}
 */
export function readBody(req, limit) {
  return new Promise((resolve) => {
    /** @type {Buffer[]} */
    const chunks = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (/** @type {Buffer} */ chunk) => {
      if (tooBig) return;
      size += chunk.length;
      if (size > limit) {
        tooBig = true;
        resolve(null);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!tooBig) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', () => resolve(null));
  });
}
