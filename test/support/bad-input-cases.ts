/**
 * A deterministic generator of hostile and near-valid HTTP requests for the bad-input suite.
 * Same seed and count, same cases: a failure printed with its seed can be replayed exactly.
 * Only generic-webhook timestamps depend on the clock; they are filled in at send time
 * (`atSend`) so that "301 s old" stays 301 s old however long the run takes.
 */
import { aopSignature } from '../../src/alibaba/aop-signature.js';
import { signGenericWebhook } from '../../src/webhooks/signatures.js';
import { mulberry32 } from '../../tools/lib/harness-prng.mjs';
import { orderMessage } from './http.js';
import { API_KEY, APP_SECRET, WEBHOOK_SECRET } from './service.js';

export type Expectation = 'reject' | 'accept' | 'either';

export interface Case {
  name: string;
  method: string;
  /** Sent as written: no normalisation, no re-encoding. */
  path: string;
  /** An array value sends the header once per element (duplicate header lines). */
  headers: Record<string, string | string[]>;
  body: string | Buffer;
  /** reject: a 4xx; accept: a 2xx; either: a 2xx or a 4xx. Never a 5xx in any case. */
  expect: Expectation;
  /** When the contract names the exact answer (401 bad signature, 413 over the limit). */
  status?: number[];
  /** Send with `Transfer-Encoding: chunked` instead of a Content-Length. */
  chunked?: boolean;
  /**
   * Send on a connection of its own (`Connection: close`): for requests the HTTP parser refuses
   * (headers over the server's limit), after which the server drops the connection. The
   * answer must then say `Connection: close`, or keep-alive clients lose their next request.
   */
  freshConnection?: boolean;
  /** Headers that depend on the clock, computed just before sending. */
  atSend?: (nowMs: number) => Record<string, string | string[]>;
}

/** The service's default BODY_LIMIT_BYTES. */
export const DEFAULT_BODY_LIMIT = 1_048_576;
/** An order the suite creates before sending, so that reads of a real order are in the mix. */
export const KNOWN_ORDER_ID = 'bad-input-known-order';
export const DEFAULT_SEED = 0x1688_5eed;

class Rng {
  constructor(private readonly next: () => number) {}
  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }
  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  digits(n: number): string {
    let s = String(1 + this.int(9));
    while (s.length < n) s += String(this.int(10));
    return s;
  }
  word(n: number): string {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[this.int(alphabet.length)];
    return s;
  }
}

interface Ctx {
  rng: Rng;
  index: number;
  seed: number;
}

type Variant = (ctx: Ctx) => Omit<Case, 'name'> & { name: string };

const FORM = 'application/x-www-form-urlencoded';
const JSON_CT = 'application/json';
const AUTH = { authorization: `Bearer ${API_KEY}` };
const OVER_LIMIT = DEFAULT_BODY_LIMIT + 1;
const deepArrays = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
const deepObjects = (levels: number) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);

// ---------------------------------------------------------------------------------------------
// 1688 pushes

const supplierId = (ctx: Ctx) => ctx.rng.digits(18);
const msgIdOf = (ctx: Ctx) => `${ctx.rng.digits(9)}${String(ctx.index).padStart(5, '0')}`;

function goodMessage(ctx: Ctx, overrides: { type?: string; status?: string; sentAt?: string } = {}): string {
  return orderMessage({
    msgId: msgIdOf(ctx),
    orderId: supplierId(ctx),
    status: overrides.status ?? ctx.rng.pick(['waitbuyerpay', 'waitsellersend', 'waitbuyerreceive', 'success']),
    type: overrides.type,
    sentAt: overrides.sentAt,
  });
}

/** A message with one field replaced by raw JSON text (wrong types, huge numbers, ...). */
function messageWith(
  ctx: Ctx,
  field: 'msgId' | 'type' | 'gmtBorn' | 'data' | 'orderId' | 'currentStatus' | 'msgSendTime' | 'userInfo',
  rawJson: string,
): string {
  const fields: Record<string, string> = {
    msgId: msgIdOf(ctx),
    type: '"ORDER_BUYER_VIEW_ORDER_PAY"',
    gmtBorn: String(1_700_000_000_000 + ctx.rng.int(1e9)),
    userInfo: '"b2b-1676547900b7bb3"',
  };
  const data: Record<string, string> = { orderId: supplierId(ctx), currentStatus: '"waitsellersend"' };
  if (field === 'orderId' || field === 'currentStatus' || field === 'msgSendTime') data[field] = rawJson;
  else fields[field] = rawJson;
  if (field !== 'data')
    fields.data = `{${Object.entries(data)
      .map(([k, v]) => `"${k}":${v}`)
      .join(',')}}`;
  return `{${Object.entries(fields)
    .map(([k, v]) => `"${k}":${v}`)
    .join(',')}}`;
}

/** `message=<encoded>&_aop_signature=<sig>`, the way 1688 sends it. */
function form1688(message: string, options: { secret?: string; lowerCase?: boolean; mutateSig?: (sig: string) => string } = {}): string {
  let sig = aopSignature(options.secret ?? APP_SECRET, [['message', message]]);
  if (options.lowerCase) sig = sig.toLowerCase();
  if (options.mutateSig) sig = options.mutateSig(sig);
  return `message=${encodeURIComponent(message)}&_aop_signature=${encodeURIComponent(sig)}`;
}

/** Signs a form body over every parameter exactly as the receiver will decode them (query ones too). */
function signAsDecoded(rawForm: string | Buffer, query = ''): string {
  const text = typeof rawForm === 'string' ? rawForm : rawForm.toString('utf8');
  const pairs = [...new URLSearchParams(query), ...new URLSearchParams(text)].map(([k, v]) => [k, v] as const);
  return aopSignature(APP_SECRET, pairs);
}

function signedRawForm(rawForm: string): string {
  return `${rawForm}&_aop_signature=${signAsDecoded(rawForm)}`;
}

function push(name: string, body: string | Buffer, expect: Expectation, extra: Partial<Case> = {}): Omit<Case, 'name'> & { name: string } {
  return { name: `1688/${name}`, method: 'POST', path: '/webhooks/1688', headers: { 'content-type': FORM }, body, expect, ...extra };
}

const flipHexDigit = (hex: string, at: number) =>
  hex.slice(0, at) + ((parseInt(hex[at], 16) + 1) % 16).toString(16).toUpperCase() + hex.slice(at + 1);

const valid1688: Variant[] = [
  (c) => push('valid', form1688(goodMessage(c)), 'accept', { status: [200] }),
  (c) => push('valid lower-case signature', form1688(goodMessage(c), { lowerCase: true }), 'accept', { status: [200] }),
  (c) => push('valid charset=UTF-8', form1688(goodMessage(c)), 'accept', { headers: { 'content-type': `${FORM}; charset=UTF-8` } }),
  (c) => push('valid charset without space', form1688(goodMessage(c)), 'accept', { headers: { 'content-type': `${FORM};charset=utf-8` } }),
  (c) =>
    push(
      'unknown topic',
      form1688(
        `{"msgId":${msgIdOf(c)},"type":"LOGISTICS_BUYER_VIEW_TRACE_${c.rng.word(4).toUpperCase()}","gmtBorn":1,"data":{"foo":${c.rng.int(100)}}}`,
      ),
      'accept',
      { status: [200] },
    ),
  (c) => push('unknown topic without data', form1688(`{"msgId":${msgIdOf(c)},"type":"PRODUCT_${c.rng.word(6).toUpperCase()}"}`), 'accept'),
  (c) =>
    push(
      'ORDER_BATCH_PAY',
      form1688(
        `{"msgId":${msgIdOf(c)},"type":"ORDER_BATCH_PAY","gmtBorn":${Date.UTC(2026, 0, 1)},"data":{"batchPay":[{"orderId":${supplierId(c)},"status":"waitsellersend"},{"orderId":${supplierId(c)},"status":"waitsellersend"}]}}`,
      ),
      'accept',
    ),
  (c) => push('unknown currentStatus', form1688(goodMessage(c, { status: `confirm_goods_and_has_subsidy_${c.rng.word(3)}` })), 'accept'),
  (c) => push('msgSendTime present', form1688(goodMessage(c, { sentAt: '2026-05-30 19:34:27' })), 'accept'),
  (c) =>
    push(
      'refund topic',
      form1688(goodMessage(c, { type: 'ORDER_BUYER_VIEW_ORDER_BUYER_REFUND_IN_SALES', status: 'waitselleragree' })),
      'accept',
    ),
  (c) => push('unicode userInfo', form1688(messageWith(c, 'userInfo', '"买家-🚀-ü"')), 'accept'),
  (c) => {
    const message = goodMessage(c);
    const sig = aopSignature(APP_SECRET, [['message', message]]);
    return push('signature in the query string', `message=${encodeURIComponent(message)}`, 'accept', {
      path: `/webhooks/1688?_aop_signature=${sig}`,
    });
  },
  (c) => {
    const message = goodMessage(c);
    const sig = aopSignature(APP_SECRET, [['message', message]]);
    return push('everything in the query string, empty body', '', 'accept', {
      path: `/webhooks/1688?message=${encodeURIComponent(message)}&_aop_signature=${sig}`,
    });
  },
  (c) => push('20+ digit orderId', form1688(messageWith(c, 'orderId', c.rng.digits(c.rng.between(20, 30)))), 'either'),
  (c) => push('msgId as a digit string', form1688(messageWith(c, 'msgId', `"${msgIdOf(c)}"`)), 'either'),
  (c) => push('extra parameter, signed', signedRawForm(`message=${encodeURIComponent(goodMessage(c))}&_aop_appkey=test-app-key`), 'either'),
];

const WRONG_TYPES = ['null', 'true', '[]', '[1]', '{}', '{"a":1}', '1.5', '-1', '""', '"abc"'];
const wrongType1688: Variant[] = [
  (c) => {
    const v = c.rng.pick(WRONG_TYPES);
    return push(`msgId=${v}`, form1688(messageWith(c, 'msgId', v)), 'reject', { status: [400] });
  },
  (c) => {
    const v = c.rng.pick(['1', 'null', '[]', '""', '{}', 'true']);
    return push(`type=${v}`, form1688(messageWith(c, 'type', v)), 'reject', { status: [400] });
  },
  (c) => {
    const v = c.rng.pick(['[]', '"x"', '1', 'true', `[{"orderId":${supplierId(c)}}]`]);
    return push(`data=${v}`, form1688(messageWith(c, 'data', v)), 'reject', { status: [400] });
  },
  (c) => {
    const v = c.rng.pick(['null', '1.5', '-5', '"abc"', 'true', '[1]', '{}', '""']);
    return push(`data.orderId=${v}`, form1688(messageWith(c, 'orderId', v)), 'reject', { status: [400] });
  },
  (c) => {
    const v = c.rng.pick(['1', '{}', '[]', 'true']);
    return push(`currentStatus=${v}`, form1688(messageWith(c, 'currentStatus', v)), 'reject', { status: [400] });
  },
  (c) => {
    const v = c.rng.pick(['"yesterday"', '"2018-02-30 25:61:61"', '1527680067', '"2018-05-30T19:34:27Z"']);
    return push(`msgSendTime=${v}`, form1688(messageWith(c, 'msgSendTime', v)), 'reject');
  },
  (c) => {
    const v = c.rng.pick(['"abc"', '-1', '1.5', '[]', '{}', 'true']);
    return push(`gmtBorn=${v}`, form1688(messageWith(c, 'gmtBorn', v)), 'reject');
  },
  (c) => {
    const v = c.rng.pick(['[]', '1', '"x"', 'null', 'true', '[{"msgId":1}]']);
    return push(`message root ${v}`, form1688(v), 'reject', { status: [400] });
  },
  (c) =>
    push(
      'order topic without orderId',
      form1688(`{"msgId":${msgIdOf(c)},"type":"ORDER_BUYER_VIEW_ORDER_PAY","data":{"currentStatus":"waitsellersend"}}`),
      'reject',
      { status: [400] },
    ),
  (c) =>
    push(
      'batchPay not an array',
      form1688(`{"msgId":${msgIdOf(c)},"type":"ORDER_BATCH_PAY","data":{"batchPay":{"orderId":${supplierId(c)}}}}`),
      'reject',
      { status: [400] },
    ),
  (c) => push('batchPay empty', form1688(`{"msgId":${msgIdOf(c)},"type":"ORDER_BATCH_PAY","data":{"batchPay":[]}}`), 'reject'),
  (c) =>
    push('batchPay with null item', form1688(`{"msgId":${msgIdOf(c)},"type":"ORDER_BATCH_PAY","data":{"batchPay":[null]}}`), 'reject', {
      status: [400],
    }),
];

const huge1688: Variant[] = [
  (c) => push('msgId=1e400', form1688(messageWith(c, 'msgId', '1e400')), 'reject', { status: [400] }),
  (c) => push('data.orderId=1e400', form1688(messageWith(c, 'orderId', '1e400')), 'reject', { status: [400] }),
  (c) => push('gmtBorn=1e400', form1688(messageWith(c, 'gmtBorn', '1e400')), 'reject'),
  (c) => push('orderId 60 digits', form1688(messageWith(c, 'orderId', c.rng.digits(60))), 'either'),
  (c) => push('msgId 25 digits', form1688(messageWith(c, 'msgId', c.rng.digits(25))), 'either'),
  (c) => push('gmtBorn 15 digits (year 33658)', form1688(messageWith(c, 'gmtBorn', '999999999999999')), 'either'),
  (c) => push('gmtBorn 0', form1688(messageWith(c, 'gmtBorn', '0')), 'either'),
  (c) => push('orderId 0', form1688(messageWith(c, 'orderId', '0')), 'either'),
  (c) => push('msgSendTime year 0000', form1688(messageWith(c, 'msgSendTime', '"0000-01-01 00:00:00"')), 'either'),
  (c) => push('msgSendTime year 9999 end', form1688(messageWith(c, 'msgSendTime', '"9999-12-31 23:59:59"')), 'either'),
];

const broken1688: Variant[] = [
  (c) => {
    const m = goodMessage(c);
    return push('truncated message', form1688(m.slice(0, c.rng.between(1, m.length - 1))), 'reject', { status: [400] });
  },
  (c) => {
    const f = form1688(goodMessage(c));
    return push('truncated form body', f.slice(0, c.rng.between(0, f.length - 1)), 'reject');
  },
  () => push('signed empty message', form1688(''), 'reject', { status: [400] }),
  () => push('signed whitespace message', form1688(' \t\n '), 'reject', { status: [400] }),
  (c) => push('trailing garbage after JSON', form1688(`${goodMessage(c)}x`), 'reject', { status: [400] }),
  (c) => push('two JSON objects', form1688(`${goodMessage(c)}${goodMessage(c)}`), 'reject', { status: [400] }),
  () => push('single quotes', form1688("{'msgId':1,'type':'ORDER_X'}"), 'reject', { status: [400] }),
  () => push('NaN', form1688('{"msgId":NaN,"type":"ORDER_X"}'), 'reject', { status: [400] }),
  (c) => push('JSON comment', form1688(`/* c */${goodMessage(c)}`), 'reject', { status: [400] }),
  (c) => push('BOM before the message JSON', form1688(`\uFEFF${goodMessage(c)}`), 'either'),
  (c) => push('raw NUL inside a JSON string', form1688(messageWith(c, 'userInfo', '"a\u0000b"')), 'reject', { status: [400] }),
  (c) => push('escaped \\u0000 in userInfo', form1688(messageWith(c, 'userInfo', '"a\\u0000b"')), 'either'),
  (c) => push('escaped \\u0000 in currentStatus', form1688(messageWith(c, 'currentStatus', '"wait\\u0000send"')), 'either'),
  (c) => push('escaped \\u0000 in type', form1688(messageWith(c, 'type', '"ORDER_X\\u0000"')), 'either'),
  (c) => push('lone surrogate in currentStatus', form1688(messageWith(c, 'currentStatus', '"\\ud800"')), 'either'),
  (c) => push('lone surrogate in an unknown topic', form1688(`{"msgId":${msgIdOf(c)},"type":"X_\\udfff","data":{}}`), 'either'),
  (c) => push('JSON duplicate msgId', form1688(goodMessage(c).replace('{', `{"msgId":${msgIdOf(c)},`)), 'either'),
  (c) =>
    push(
      'JSON duplicate data',
      form1688(goodMessage(c).replace(/}$/, `,"data":{"orderId":${supplierId(c)},"currentStatus":"success"}}`)),
      'either',
    ),
  (c) =>
    push('deep nesting inside data', form1688(messageWith(c, 'currentStatus', '"waitsellersend","x":' + deepArrays(10_000))), 'either'),
  () => push('message root nested 10,000 arrays', form1688(deepArrays(10_000)), 'reject', { status: [400] }),
  (c) => push('data nested 10,000 objects', form1688(messageWith(c, 'data', deepObjects(10_000))), 'reject', { status: [400] }),
];

/** A signed form whose message has `replacement` (raw form text or bytes) where userInfo's "x__Y__y" middle is. */
function formWithInsideUserInfo(ctx: Ctx, replacement: string | Buffer): Buffer {
  const encoded = `message=${encodeURIComponent(messageWith(ctx, 'userInfo', '"x__Y__y"'))}`;
  const [head, tail] = encoded.split('__Y__') as [string, string];
  const raw = Buffer.concat([Buffer.from(head), Buffer.from(replacement), Buffer.from(tail)]);
  return Buffer.concat([raw, Buffer.from(`&_aop_signature=${signAsDecoded(raw)}`)]);
}

const encoding1688: Variant[] = [
  (c) => push('invalid percent-encoding inside a string, signed as decoded', formWithInsideUserInfo(c, '%ZZ%4%'), 'either'),
  () => push('invalid percent-encoding breaking the JSON, signed', signedRawForm('message=%7B%ZZ%'), 'reject', { status: [400] }),
  (c) => push('percent-encoded invalid UTF-8, signed as decoded', formWithInsideUserInfo(c, '%FF%FE%C3%28%ED%A0%80'), 'either'),
  (c) => {
    const message = messageWith(c, 'userInfo', '"xyz"');
    const form = form1688(message);
    const bytes = Buffer.from(form.replace('xyz', '__BAD__'), 'utf8');
    const at = bytes.indexOf('__BAD__');
    const body = Buffer.concat([bytes.subarray(0, at), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), bytes.subarray(at + 7)]);
    return push('raw invalid UTF-8 bytes, signed over the intended text', body, 'reject', { status: [401] });
  },
  (c) =>
    push(
      'raw invalid UTF-8 bytes, signed as decoded',
      formWithInsideUserInfo(c, Buffer.from([0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xff])),
      'either',
    ),
  (c) =>
    push(
      'UTF-8 BOM before the form body',
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(form1688(goodMessage(c)))]),
      'reject',
    ),
  (c) => push('%00 in a parameter name, signed', signedRawForm(`message=${encodeURIComponent(goodMessage(c))}&a%00b=1`), 'either'),
  (c) =>
    push(
      '%00 between JSON tokens, signed',
      signedRawForm(`message=${encodeURIComponent(goodMessage(c)).replace('%2C', '%00%2C')}`),
      'reject',
      { status: [400] },
    ),
  (c) => push('raw NUL byte in the form body', Buffer.from(form1688(goodMessage(c)).replace('&', '\u0000&'), 'utf8'), 'reject'),
  (c) =>
    push(
      'plus signs for spaces in the message',
      signedRawForm(`message=${encodeURIComponent(goodMessage(c).replace(/,/g, ' , ')).replace(/%20/g, '+')}`),
      'accept',
    ),
];

const duplicates1688: Variant[] = [
  (c) =>
    push(
      'message twice, both signed',
      signedRawForm(`message=${encodeURIComponent(goodMessage(c))}&message=${encodeURIComponent(goodMessage(c))}`),
      'reject',
      { status: [400, 401] },
    ),
  (c) => push('message twice, signature over the first', `${form1688(goodMessage(c))}&message=x`, 'reject', { status: [401] }),
  (c) => {
    const f = form1688(goodMessage(c));
    return push('_aop_signature twice, both right', `${f}&${f.slice(f.indexOf('_aop_signature'))}`, 'reject', { status: [400, 401] });
  },
  (c) =>
    push('_aop_signature in body and query', form1688(goodMessage(c)), 'reject', {
      path: `/webhooks/1688?_aop_signature=${'0'.repeat(40)}`,
      status: [400, 401],
    }),
  (c) => {
    const message = goodMessage(c);
    return push('message in query and body', form1688(message), 'reject', {
      path: `/webhooks/1688?message=${encodeURIComponent(message)}`,
      status: [400, 401],
    });
  },
];

const headers1688: Variant[] = [
  (c) => push('no content-type', form1688(goodMessage(c)), 'reject', { headers: {} }),
  (c) => push('content-type text/plain', form1688(goodMessage(c)), 'reject', { headers: { 'content-type': 'text/plain' } }),
  (c) => push('content-type application/json, form body', form1688(goodMessage(c)), 'reject', { headers: { 'content-type': JSON_CT } }),
  (c) =>
    push('content-type application/json, JSON body', JSON.stringify({ message: goodMessage(c) }), 'reject', {
      headers: { 'content-type': JSON_CT },
    }),
  (c) =>
    push('content-type multipart/form-data', form1688(goodMessage(c)), 'reject', {
      headers: { 'content-type': 'multipart/form-data; boundary=x' },
    }),
  (c) => push('content-type upper case', form1688(goodMessage(c)), 'either', { headers: { 'content-type': FORM.toUpperCase() } }),
  (c) => push('charset=GBK', form1688(goodMessage(c)), 'either', { headers: { 'content-type': `${FORM}; charset=GBK` } }),
  (c) => push('charset quoted', form1688(goodMessage(c)), 'either', { headers: { 'content-type': `${FORM}; charset="utf-8"` } }),
  (c) =>
    push('content-type garbage parameters', form1688(goodMessage(c)), 'either', { headers: { 'content-type': `${FORM};;;=;charset` } }),
  (c) => push('content-type sent twice', form1688(goodMessage(c)), 'either', { headers: { 'content-type': [FORM, FORM] } }),
  (c) =>
    push('very long unrelated header (8 KiB)', form1688(goodMessage(c)), 'accept', {
      headers: { 'content-type': FORM, 'x-padding': 'p'.repeat(8 * 1024) },
    }),
  (c) =>
    push('header over the server limit (20 KiB)', form1688(goodMessage(c)), 'reject', {
      headers: { 'content-type': FORM, 'x-padding': 'p'.repeat(20 * 1024) },
      freshConnection: true,
    }),
];

const signature1688: Variant[] = [
  (c) =>
    push('one hex digit off', form1688(goodMessage(c), { mutateSig: (s) => flipHexDigit(s, c.rng.int(40)) }), 'reject', { status: [401] }),
  (c) =>
    push('truncated signature', form1688(goodMessage(c), { mutateSig: (s) => s.slice(0, c.rng.between(1, 39)) }), 'reject', {
      status: [401],
    }),
  (c) =>
    push(
      'signed with another secret',
      form1688(goodMessage(c), { secret: c.rng.pick(['not-the-secret', 'test1234', 'TEST123']) }),
      'reject',
      { status: [401] },
    ),
  (c) => push('empty signature', form1688(goodMessage(c), { mutateSig: () => '' }), 'reject', { status: [401] }),
  (c) => push('non-hex signature', form1688(goodMessage(c), { mutateSig: (s) => `${s.slice(0, 39)}G` }), 'reject', { status: [401] }),
  (c) => push('sha1= prefix', form1688(goodMessage(c), { mutateSig: (s) => `sha1=${s}` }), 'reject', { status: [401] }),
  (c) => push('signature doubled', form1688(goodMessage(c), { mutateSig: (s) => s + s }), 'reject', { status: [401] }),
  (c) => push('signature with surrounding whitespace', form1688(goodMessage(c), { mutateSig: (s) => ` ${s} ` }), 'either'),
  (c) => push('signature 8 KiB long', form1688(goodMessage(c), { mutateSig: (s) => s.repeat(205) }), 'reject', { status: [401] }),
  (c) =>
    push('signature of HMAC-SHA256', form1688(goodMessage(c), { mutateSig: () => signGenericWebhook(APP_SECRET, '', 'x') }), 'reject', {
      status: [401],
    }),
  (c) => push('no signature', `message=${encodeURIComponent(goodMessage(c))}`, 'reject', { status: [401] }),
  (c) => {
    const m = goodMessage(c);
    return push(
      'signature over another message',
      `message=${encodeURIComponent(m)}&_aop_signature=${aopSignature(APP_SECRET, [['message', m.replace('b2b-1', 'b2b-9')]])}`,
      'reject',
      { status: [401] },
    );
  },
  () => push('empty body', '', 'reject', { status: [400, 401] }),
];

const size1688: Variant[] = [
  (c) => push('body over the limit', `message=${'x'.repeat(OVER_LIMIT + c.rng.int(4096))}`, 'reject', { status: [413] }),
  (c) =>
    push('signed body over the limit', form1688(messageWith(c, 'userInfo', `"${'u'.repeat(OVER_LIMIT)}"`)), 'reject', { status: [413] }),
  (c) =>
    push('chunked body over the limit', `message=${'x'.repeat(OVER_LIMIT + c.rng.int(4096))}`, 'reject', { status: [413], chunked: true }),
  () => push('body exactly at the limit', `message=${'x'.repeat(DEFAULT_BODY_LIMIT - 'message='.length)}`, 'reject', { status: [401] }),
  (c) =>
    push(
      'big valid push (500 KiB in data)',
      form1688(messageWith(c, 'currentStatus', `"waitsellersend","note":"${'u'.repeat(500 * 1024)}"`)),
      'either',
    ),
];

const paths1688: Variant[] = [
  () => ({ name: '1688/GET instead of POST', method: 'GET', path: '/webhooks/1688', headers: {}, body: '', expect: 'reject' }),
  (c) => push('trailing slash', form1688(goodMessage(c)), 'either', { path: '/webhooks/1688/' }),
  (c) => push('query with invalid percent-encoding', form1688(goodMessage(c)), 'either', { path: '/webhooks/1688?x=%ZZ&y=%' }),
  (c) => push('query with %00', form1688(goodMessage(c)), 'either', { path: '/webhooks/1688?x=%00' }),
];

// ---------------------------------------------------------------------------------------------
// Generic signed JSON

interface GenericSigning {
  secret?: string;
  /** Seconds added to now for the timestamp. */
  offsetS?: number;
  /** A literal timestamp header value instead of now + offset. */
  timestamp?: string | null;
  mutateSig?: (header: string, hex: string) => string | string[] | null;
  /** Sign this instead of the body sent. */
  signedBody?: string | Buffer;
  /** Send the timestamp header twice. */
  timestampTwice?: boolean;
}

function generic(
  name: string,
  body: string | Buffer,
  expect: Expectation,
  signing: GenericSigning = {},
  extra: Partial<Case> = {},
): Omit<Case, 'name'> & { name: string } {
  return {
    name: `generic/${name}`,
    method: 'POST',
    path: '/webhooks/orders',
    headers: { 'content-type': JSON_CT },
    body,
    expect,
    ...extra,
    atSend: (nowMs) => {
      const nowS = (signing.offsetS ?? 0) > 0 ? Math.ceil(nowMs / 1000) : Math.floor(nowMs / 1000);
      const timestamp = signing.timestamp === undefined ? String(nowS + (signing.offsetS ?? 0)) : signing.timestamp;
      const hex = signGenericWebhook(signing.secret ?? WEBHOOK_SECRET, timestamp ?? '', signing.signedBody ?? body);
      const header = `sha256=${hex}`;
      const signature = signing.mutateSig ? signing.mutateSig(header, hex) : header;
      const out: Record<string, string | string[]> = {};
      if (timestamp !== null) out['x-webhook-timestamp'] = signing.timestampTwice ? [timestamp, timestamp] : timestamp;
      if (signature !== null) out['x-webhook-signature'] = signature;
      return out;
    },
  };
}

function eventFields(ctx: Ctx): Record<string, string> {
  return {
    eventId: JSON.stringify(`bi-${ctx.seed}-${ctx.index}-${ctx.rng.word(6)}`),
    orderId: JSON.stringify(`BI-G-${ctx.seed}-${ctx.index}`),
    status: JSON.stringify(ctx.rng.pick(['shipped', 'delivered', 'paid', 'cancelled'])),
    occurredAt: JSON.stringify(new Date(Date.UTC(2026, 0, 1) + ctx.rng.int(1e10)).toISOString()),
  };
}

function eventJson(ctx: Ctx, replace: Record<string, string | undefined> = {}): string {
  const fields: Record<string, string | undefined> = { ...eventFields(ctx), ...replace };
  return `{${Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${JSON.stringify(k)}:${v}`)
    .join(',')}}`;
}

const validGeneric: Variant[] = [
  (c) => generic('valid', eventJson(c), 'accept', {}, { status: [200] }),
  (c) => generic('valid with supplierOrderId', eventJson(c, { supplierOrderId: JSON.stringify(c.rng.digits(18)) }), 'accept'),
  (c) => generic('unicode ids', eventJson(c, { orderId: JSON.stringify(`订单-${c.index}-🚀`), status: '"已发货"' }), 'accept'),
  (c) => generic('unknown status value', eventJson(c, { status: JSON.stringify(`weird_status_${c.rng.word(5)}`) }), 'accept'),
  (c) => generic('timestamp 290 s old', eventJson(c), 'accept', { offsetS: -290 }),
  (c) => generic('timestamp 290 s ahead', eventJson(c), 'accept', { offsetS: 290 }),
  (c) => generic('charset=utf-8', eventJson(c), 'accept', {}, { headers: { 'content-type': `${JSON_CT}; charset=utf-8` } }),
  (c) => generic('occurredAt with +08:00 offset', eventJson(c, { occurredAt: '"2026-05-30T19:34:27+08:00"' }), 'accept'),
  (c) => generic('pretty-printed body', JSON.stringify(JSON.parse(eventJson(c)), null, 2), 'accept'),
  (c) => generic('upper-case signature hex', eventJson(c), 'either', { mutateSig: (_h, hex) => `sha256=${hex.toUpperCase()}` }),
  (c) => generic('trailing whitespace after the signature header', eventJson(c), 'accept', { mutateSig: (h) => `${h}  ` }),
];

const wrongTypeGeneric: Variant[] = [
  (c) => {
    const f = c.rng.pick(['eventId', 'orderId', 'status', 'occurredAt']);
    const v = c.rng.pick(['1', 'null', 'true', '[]', '{}', '["a"]', '{"a":"b"}']);
    return generic(`${f}=${v}`, eventJson(c, { [f]: v }), 'reject', {}, { status: [400] });
  },
  (c) => {
    const f = c.rng.pick(['eventId', 'orderId', 'status', 'occurredAt']);
    return generic(`missing ${f}`, eventJson(c, { [f]: undefined }), 'reject', {}, { status: [400] });
  },
  (c) => {
    const v = c.rng.pick(['[]', 'null', '"event"', '1', 'true', `[${eventJson(c)}]`]);
    return generic(`root ${v.slice(0, 20)}`, v, 'reject', {}, { status: [400] });
  },
  (c) => generic('empty strings', eventJson(c, { eventId: '""', status: '""' }), 'reject', {}, { status: [400] }),
  (c) => generic('supplierOrderId number', eventJson(c, { supplierOrderId: c.rng.digits(18) }), 'reject', {}, { status: [400] }),
  (c) =>
    generic(
      'occurredAt not a date',
      eventJson(c, { occurredAt: JSON.stringify(c.rng.pick(['yesterday', '2026-02-30T00:00:00Z', '1700000000', ''])) }),
      'reject',
      {},
      { status: [400] },
    ),
  (c) => generic('orderId 129 characters', eventJson(c, { orderId: JSON.stringify('o'.repeat(129)) }), 'reject', {}, { status: [400] }),
  (c) => generic('status 65 characters', eventJson(c, { status: JSON.stringify('s'.repeat(65)) }), 'reject', {}, { status: [400] }),
  (c) => generic('unknown field', eventJson(c, { extra: 'true' }), 'either'),
  (c) => generic('__proto__ key', eventJson(c).replace('{', '{"__proto__":{"polluted":true},'), 'reject'),
  (c) => generic('constructor.prototype key', eventJson(c).replace('{', '{"constructor":{"prototype":{"polluted":true}},'), 'either'),
];

const hugeGeneric: Variant[] = [
  (c) => generic('eventId=1e400', eventJson(c, { eventId: '1e400' }), 'reject', {}, { status: [400] }),
  (c) => generic('status=1e400', eventJson(c, { status: '1e400' }), 'reject', {}, { status: [400] }),
  (c) => generic('orderId 25-digit number', eventJson(c, { orderId: c.rng.digits(25) }), 'reject', {}, { status: [400] }),
  (c) => generic('orderId 25-digit string', eventJson(c, { orderId: JSON.stringify(c.rng.digits(25)) }), 'accept'),
  (c) => generic('occurredAt year 0000', eventJson(c, { occurredAt: '"0000-01-01T00:00:00Z"' }), 'either'),
  (c) => generic('occurredAt year 9999', eventJson(c, { occurredAt: '"9999-12-31T23:59:59.999Z"' }), 'either'),
  (c) => generic('occurredAt six-digit year', eventJson(c, { occurredAt: '"+275760-09-13T00:00:00.000Z"' }), 'either'),
  (c) => generic('deep nesting in an extra field', eventJson(c, { extra: deepArrays(10_000) }), 'either'),
  (c) => generic('deep nesting in status', eventJson(c, { status: deepObjects(10_000) }), 'reject', {}, { status: [400] }),
  () => generic('root nested 10,000 arrays', deepArrays(10_000), 'reject', {}, { status: [400] }),
  () => generic('root nested 10,000 objects', deepObjects(10_000), 'reject', {}, { status: [400] }),
];

const encodingGeneric: Variant[] = [
  (c) =>
    generic(
      'truncated JSON',
      (() => {
        const b = eventJson(c);
        return b.slice(0, c.rng.between(0, b.length - 1));
      })(),
      'reject',
      {},
      { status: [400] },
    ),
  (_c) => generic('empty body', '', 'reject', {}, { status: [400] }),
  (c) => generic('BOM before the JSON', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(eventJson(c))]), 'either'),
  (c) =>
    generic(
      'raw invalid UTF-8 in status',
      Buffer.concat([
        Buffer.from(eventJson(c, { status: '"ab__BAD__"' }).split('__BAD__')[0]),
        Buffer.from([0xff, 0xc3, 0x28]),
        Buffer.from(eventJson(c, { status: '"ab__BAD__"' }).split('__BAD__')[1]),
      ]),
      'either',
    ),
  (c) => generic('raw NUL between tokens', eventJson(c).replace(',', '\u0000,'), 'reject', {}, { status: [400] }),
  (c) => generic('raw NUL inside a string', eventJson(c, { status: '"a\u0000b"' }), 'reject', {}, { status: [400] }),
  (c) => generic('escaped \\u0000 in orderId', eventJson(c, { orderId: '"a\\u0000b"' }), 'reject', {}, { status: [400] }),
  (c) => generic('escaped \\u0000 in eventId', eventJson(c, { eventId: `"ev-${c.index}\\u0000"` }), 'either'),
  (c) => generic('escaped \\u0000 in status', eventJson(c, { status: '"ship\\u0000ped"' }), 'either'),
  (c) => generic('lone surrogate in status', eventJson(c, { status: '"\\ud83d"' }), 'either'),
  (c) => generic('lone surrogate in orderId', eventJson(c, { orderId: '"o-\\udc00"' }), 'either'),
  (c) => generic('invalid JSON escape', eventJson(c, { status: '"\\x41"' }), 'reject', {}, { status: [400] }),
  (c) => generic('duplicate keys', eventJson(c).replace('{', '{"status":"first",'), 'either'),
  (c) => generic('duplicate eventId keys', eventJson(c).replace('{', `{"eventId":"dup-${c.index}",`), 'either'),
];

const headersGeneric: Variant[] = [
  (c) => generic('no content-type', eventJson(c), 'reject', {}, { headers: {} }),
  (c) => generic('content-type text/plain', eventJson(c), 'reject', {}, { headers: { 'content-type': 'text/plain' } }),
  (c) => generic('content-type form', eventJson(c), 'reject', {}, { headers: { 'content-type': FORM } }),
  (c) => generic('content-type upper case', eventJson(c), 'either', {}, { headers: { 'content-type': 'APPLICATION/JSON' } }),
  (c) => generic('charset=latin1', eventJson(c), 'either', {}, { headers: { 'content-type': `${JSON_CT}; charset=latin1` } }),
  (c) => generic('content-type vnd+json', eventJson(c), 'either', {}, { headers: { 'content-type': 'application/vnd.api+json' } }),
  (c) => generic('missing timestamp', eventJson(c), 'reject', { timestamp: null }, { status: [401] }),
  (c) => generic('missing signature', eventJson(c), 'reject', { mutateSig: () => null }, { status: [401] }),
  (c) =>
    generic(
      'signature header twice, one wrong',
      eventJson(c),
      'reject',
      { mutateSig: (h) => [`sha256=${'0'.repeat(64)}`, h] },
      { status: [401] },
    ),
  (c) => generic('signature header twice, both right', eventJson(c), 'either', { mutateSig: (h) => [h, h] }),
  (c) => generic('timestamp header twice', eventJson(c), 'either', { timestampTwice: true }),
  (c) => generic('sha1= prefix', eventJson(c), 'reject', { mutateSig: (_h, hex) => `sha1=${hex}` }, { status: [401] }),
  (c) => generic('SHA256= upper-case prefix', eventJson(c), 'either', { mutateSig: (_h, hex) => `SHA256=${hex}` }),
  (c) => generic('no prefix', eventJson(c), 'reject', { mutateSig: (_h, hex) => hex }, { status: [401] }),
  (c) => generic('whitespace after sha256=', eventJson(c), 'reject', { mutateSig: (_h, hex) => `sha256= ${hex}` }, { status: [401] }),
  (c) =>
    generic(
      'whitespace inside the hex',
      eventJson(c),
      'reject',
      { mutateSig: (_h, hex) => `sha256=${hex.slice(0, 32)} ${hex.slice(32)}` },
      { status: [401] },
    ),
  (c) => generic('signature header 8 KiB', eventJson(c), 'reject', { mutateSig: (h) => h + 'a'.repeat(8 * 1024) }, { status: [401] }),
  (c) =>
    generic(
      'signature header 20 KiB (over the server limit)',
      eventJson(c),
      'reject',
      { mutateSig: (h) => h + 'a'.repeat(20 * 1024) },
      { freshConnection: true },
    ),
];

const signatureGeneric: Variant[] = [
  (c) =>
    generic(
      'one hex digit off',
      eventJson(c),
      'reject',
      { mutateSig: (_h, hex) => `sha256=${flipHexDigit(hex, c.rng.int(64)).toLowerCase()}` },
      { status: [401] },
    ),
  (c) =>
    generic(
      'truncated signature',
      eventJson(c),
      'reject',
      { mutateSig: (_h, hex) => `sha256=${hex.slice(0, c.rng.between(1, 63))}` },
      { status: [401] },
    ),
  (c) => generic('empty hex', eventJson(c), 'reject', { mutateSig: () => 'sha256=' }, { status: [401] }),
  (c) =>
    generic(
      'signed with another secret',
      eventJson(c),
      'reject',
      { secret: c.rng.pick(['nope', 'test-webhook-secreT', 'test123']) },
      { status: [401] },
    ),
  (c) => generic('signed over another body', eventJson(c), 'reject', { signedBody: eventJson(c) }, { status: [401] }),
  (c) => {
    const b = eventJson(c);
    return generic('signed over the body plus a newline', b, 'reject', { signedBody: `${b}\n` }, { status: [401] });
  },
  (c) => generic('timestamp 301 s old', eventJson(c), 'reject', { offsetS: -301 }, { status: [401] }),
  (c) => generic('timestamp 302 s ahead', eventJson(c), 'reject', { offsetS: 302 }, { status: [401] }),
  (c) => generic('timestamp a day old', eventJson(c), 'reject', { offsetS: -86_400 }, { status: [401] }),
  (c) =>
    generic(
      'timestamp non-numeric',
      eventJson(c),
      'reject',
      { timestamp: c.rng.pick(['abc', 'now', '1e9', '0x65', 'NaN', ' ']) },
      { status: [401] },
    ),
  (c) => generic('timestamp empty', eventJson(c), 'reject', { timestamp: '' }, { status: [401] }),
  (c) => generic('timestamp negative', eventJson(c), 'reject', { timestamp: '-1700000000' }, { status: [401] }),
  (c) => generic('timestamp 0', eventJson(c), 'reject', { timestamp: '0' }, { status: [401] }),
  (c) => generic('timestamp in milliseconds', eventJson(c), 'reject', { timestamp: String(Date.UTC(2026, 0, 1)) }, { status: [401] }),
  (c) => generic('timestamp 25 digits', eventJson(c), 'reject', { timestamp: c.rng.digits(25) }, { status: [401] }),
  (c) => generic('timestamp with a fraction', eventJson(c), 'either', { timestamp: `${Math.floor(Date.UTC(2026, 0, 1) / 1000)}.5` }),
];

const sizeGeneric: Variant[] = [
  (c) => generic('body over the limit', eventJson(c, { status: `"${'s'.repeat(OVER_LIMIT)}"` }), 'reject', {}, { status: [413] }),
  (c) =>
    generic(
      'chunked body over the limit',
      eventJson(c, { extra: `"${'s'.repeat(OVER_LIMIT)}"` }),
      'reject',
      {},
      { status: [413], chunked: true },
    ),
];

// ---------------------------------------------------------------------------------------------
// REST

function rest(
  name: string,
  method: string,
  path: string,
  body: unknown,
  expect: Expectation,
  extra: Partial<Case> = {},
): Omit<Case, 'name'> & { name: string } {
  const text = body === undefined ? '' : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  const headers: Record<string, string | string[]> = { ...AUTH };
  if (body !== undefined) headers['content-type'] = JSON_CT;
  return { name: `rest/${name}`, method, path, headers, body: text, expect, ...extra };
}

const orderId = (ctx: Ctx) => `BI-${ctx.seed}-${ctx.index}`;
const orderBody = (ctx: Ctx, replace: Record<string, string | undefined> = {}) => {
  const fields: Record<string, string | undefined> = {
    id: JSON.stringify(orderId(ctx)),
    payload: JSON.stringify({ sku: ctx.rng.word(8), qty: ctx.rng.between(1, 9) }),
    ...replace,
  };
  return `{${Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${JSON.stringify(k)}:${v}`)
    .join(',')}}`;
};

const validRest: Variant[] = [
  (c) => rest('POST /orders valid', 'POST', '/orders', orderBody(c), 'accept', { status: [201] }),
  (c) => rest('POST /orders unicode id', 'POST', '/orders', orderBody(c, { id: JSON.stringify(`订单-${c.seed}-${c.index}-🚀`) }), 'accept'),
  (c) =>
    rest(
      'POST /orders id of 128 characters',
      'POST',
      '/orders',
      orderBody(c, { id: JSON.stringify(`${orderId(c)}-`.padEnd(128, 'x')) }),
      'accept',
    ),
  (c) => rest('POST /orders empty payload', 'POST', '/orders', orderBody(c, { payload: '{}' }), 'accept'),
  (c) => rest('POST /orders payload nested 20 levels', 'POST', '/orders', orderBody(c, { payload: deepObjects(20) }), 'accept'),
  (c) =>
    rest('POST /orders charset=utf-8', 'POST', '/orders', orderBody(c), 'accept', {
      headers: { ...AUTH, 'content-type': `${JSON_CT}; charset=utf-8` },
    }),
  (c) =>
    rest('POST /orders with the second key', 'POST', '/orders', orderBody(c), 'accept', {
      headers: { authorization: 'Bearer second-key-0123456789', 'content-type': JSON_CT },
    }),
  (c) =>
    rest(
      'POST /orders/batch valid',
      'POST',
      '/orders/batch',
      `{"orders":[${Array.from({ length: c.rng.between(1, 5) }, (_, i) => `{"id":"${orderId(c)}-${i}","payload":{"n":${i}}}`).join(',')}]}`,
      'accept',
      { status: [200] },
    ),
  () => rest('GET /orders', 'GET', '/orders', undefined, 'accept', { status: [200] }),
  (c) =>
    rest(
      'GET /orders filtered',
      'GET',
      `/orders?status=${c.rng.pick(['PENDING', 'EXTERNAL', 'COMPLETED', 'FAILED', 'PROCESSING'])}&limit=${c.rng.between(1, 1000)}`,
      undefined,
      'accept',
      { status: [200] },
    ),
  (c) =>
    rest('GET /orders by supplierOrderId', 'GET', `/orders?supplierOrderId=${c.rng.digits(18)}`, undefined, 'accept', { status: [200] }),
  () =>
    rest(
      'GET /orders updatedSince',
      'GET',
      `/orders?updatedSince=${encodeURIComponent('2026-01-01T00:00:00.000Z')}&supplierStatus=waitsellersend`,
      undefined,
      'accept',
      { status: [200] },
    ),
  () => rest('GET /orders/:id known', 'GET', `/orders/${KNOWN_ORDER_ID}`, undefined, 'accept', { status: [200] }),
  () => rest('GET /orders/:id/events known', 'GET', `/orders/${KNOWN_ORDER_ID}/events`, undefined, 'accept', { status: [200] }),
];

const authRest: Variant[] = [
  () => rest('no Authorization', 'GET', '/orders', undefined, 'reject', { headers: {}, status: [401] }),
  (c) =>
    rest('wrong key', 'GET', '/orders', undefined, 'reject', {
      headers: { authorization: `Bearer ${c.rng.pick(['test-api-kez', 'test-api-key-', 'TEST-API-KEY', 'x'])}` },
      status: [401],
    }),
  () =>
    rest('Basic scheme', 'GET', '/orders', undefined, 'reject', {
      headers: { authorization: 'Basic dGVzdC1hcGkta2V5Og==' },
      status: [401],
    }),
  () => rest('Bearer without key', 'GET', '/orders', undefined, 'reject', { headers: { authorization: 'Bearer ' }, status: [401] }),
  () => rest('bare key', 'GET', '/orders', undefined, 'reject', { headers: { authorization: API_KEY }, status: [401] }),
  () =>
    rest('two keys in one header', 'GET', '/orders', undefined, 'reject', {
      headers: { authorization: `Bearer ${API_KEY} second-key-0123456789` },
      status: [401],
    }),
  () => rest('lower-case scheme', 'GET', '/orders', undefined, 'either', { headers: { authorization: `bearer ${API_KEY}` } }),
  (c) =>
    rest('POST /orders without a key', 'POST', '/orders', orderBody(c), 'reject', { headers: { 'content-type': JSON_CT }, status: [401] }),
  () =>
    rest('very long key (8 KiB)', 'GET', '/orders', undefined, 'reject', {
      headers: { authorization: `Bearer ${'k'.repeat(8 * 1024)}` },
      status: [401],
    }),
];

const wrongTypeRest: Variant[] = [
  (c) => {
    const v = c.rng.pick(['1', 'null', 'true', '[]', '{}', '["a"]', '""']);
    return rest(`POST /orders id=${v}`, 'POST', '/orders', orderBody(c, { id: v }), 'reject', { status: [400] });
  },
  (c) => {
    const v = c.rng.pick(['[]', '"x"', '1', 'null', 'true', '[{"a":1}]']);
    return rest(`POST /orders payload=${v}`, 'POST', '/orders', orderBody(c, { payload: v }), 'reject', { status: [400] });
  },
  (c) => {
    const f = c.rng.pick(['id', 'payload']);
    return rest(`POST /orders missing ${f}`, 'POST', '/orders', orderBody(c, { [f]: undefined }), 'reject', { status: [400] });
  },
  (c) => {
    const v = c.rng.pick(['[]', 'null', '"order"', '1', 'true', `[${orderBody(c)}]`]);
    return rest(`POST /orders root ${v.slice(0, 20)}`, 'POST', '/orders', v, 'reject', { status: [400] });
  },
  (c) =>
    rest('POST /orders id of 129 characters', 'POST', '/orders', orderBody(c, { id: JSON.stringify('i'.repeat(129)) }), 'reject', {
      status: [400],
    }),
  (c) =>
    rest('POST /orders id of 10,000 characters', 'POST', '/orders', orderBody(c, { id: JSON.stringify('i'.repeat(10_000)) }), 'reject', {
      status: [400],
    }),
  (c) =>
    rest('POST /orders id with a control character', 'POST', '/orders', orderBody(c, { id: JSON.stringify(`${orderId(c)}\n`) }), 'reject', {
      status: [400],
    }),
  (c) => rest('POST /orders unknown field', 'POST', '/orders', orderBody(c, { extra: '1' }), 'either'),
  (_c) => rest('POST /orders/batch empty', 'POST', '/orders/batch', '{"orders":[]}', 'reject', { status: [400] }),
  (c) =>
    rest(
      'POST /orders/batch 1,001 orders',
      'POST',
      '/orders/batch',
      `{"orders":[${Array.from({ length: 1001 }, (_, i) => `{"id":"${orderId(c)}-${i}","payload":{}}`).join(',')}]}`,
      'reject',
      { status: [400] },
    ),
  (c) => {
    const v = c.rng.pick(['{}', 'null', '"x"', '1', orderBody(c)]);
    return rest(`POST /orders/batch orders=${v.slice(0, 20)}`, 'POST', '/orders/batch', `{"orders":${v}}`, 'reject', { status: [400] });
  },
  (c) => {
    const v = c.rng.pick([
      'null',
      '1',
      '"x"',
      '[]',
      '[[]]',
      `[{"id":"${orderId(c)}-n","payload":{}}]`,
      '{"id":1,"payload":{}}',
      '{"id":"a"}',
    ]);
    return rest(`POST /orders/batch item ${v}`, 'POST', '/orders/batch', `{"orders":[${orderBody(c)},${v}]}`, 'reject', { status: [400] });
  },
  (c) =>
    rest('POST /orders/batch duplicate ids', 'POST', '/orders/batch', `{"orders":[${orderBody(c)},${orderBody(c)}]}`, 'reject', {
      status: [400, 409],
    }),
  (c) => rest('POST /orders/batch root array', 'POST', '/orders/batch', `[${orderBody(c)}]`, 'reject', { status: [400] }),
  (_c) => rest('POST /orders/batch missing orders', 'POST', '/orders/batch', '{}', 'reject', { status: [400] }),
];

const hugeRest: Variant[] = [
  (c) => rest('POST /orders payload with 1e400', 'POST', '/orders', orderBody(c, { payload: '{"n":1e400}' }), 'either'),
  (c) =>
    rest(
      'POST /orders payload with a 30-digit number',
      'POST',
      '/orders',
      orderBody(c, { payload: `{"n":${c.rng.digits(30)}}` }),
      'either',
    ),
  (c) => rest('POST /orders payload nested 10,000 levels', 'POST', '/orders', orderBody(c, { payload: deepObjects(10_000) }), 'either'),
  (c) =>
    rest(
      'POST /orders payload of 10,000 nested arrays',
      'POST',
      '/orders',
      orderBody(c, { payload: `{"a":${deepArrays(10_000)}}` }),
      'either',
    ),
  () => rest('POST /orders root nested 10,000 arrays', 'POST', '/orders', deepArrays(10_000), 'reject', { status: [400] }),
  (c) =>
    rest(
      'POST /orders/batch item payload nested 10,000 levels',
      'POST',
      '/orders/batch',
      `{"orders":[${orderBody(c, { payload: deepObjects(10_000) })}]}`,
      'either',
    ),
  (c) =>
    rest(
      'POST /orders payload over 64 KiB',
      'POST',
      '/orders',
      orderBody(c, { payload: JSON.stringify({ blob: 'b'.repeat(70 * 1024) }) }),
      'reject',
    ),
  (c) =>
    rest(
      'POST /orders body over the limit',
      'POST',
      '/orders',
      orderBody(c, { payload: JSON.stringify({ blob: 'b'.repeat(OVER_LIMIT) }) }),
      'reject',
      { status: [413] },
    ),
  (c) =>
    rest(
      'POST /orders/batch over the limit',
      'POST',
      '/orders/batch',
      `{"orders":[${Array.from({ length: 20 }, (_, i) => `{"id":"${orderId(c)}-${i}","payload":{"b":"${'b'.repeat(60 * 1024)}"}}`).join(',')}]}`,
      'reject',
      { status: [413] },
    ),
  (c) =>
    rest(
      'POST /orders chunked over the limit',
      'POST',
      '/orders',
      orderBody(c, { payload: JSON.stringify({ blob: 'b'.repeat(OVER_LIMIT) }) }),
      'reject',
      { status: [413], chunked: true },
    ),
];

const encodingRest: Variant[] = [
  (c) =>
    rest(
      'POST /orders truncated JSON',
      'POST',
      '/orders',
      (() => {
        const b = orderBody(c);
        return b.slice(0, c.rng.between(0, b.length - 1));
      })(),
      'reject',
      { status: [400] },
    ),
  (_c) => rest('POST /orders empty body', 'POST', '/orders', '', 'reject', { status: [400] }),
  (c) => rest('POST /orders BOM', 'POST', '/orders', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(orderBody(c))]), 'either'),
  (c) =>
    rest(
      'POST /orders raw invalid UTF-8 in payload',
      'POST',
      '/orders',
      Buffer.concat([
        Buffer.from(`{"id":"${orderId(c)}","payload":{"s":"a`),
        Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]),
        Buffer.from('"}}'),
      ]),
      'either',
    ),
  (c) =>
    rest(
      'POST /orders raw invalid UTF-8 in id',
      'POST',
      '/orders',
      Buffer.concat([Buffer.from(`{"id":"${orderId(c)}`), Buffer.from([0xc0, 0xaf]), Buffer.from('","payload":{}}')]),
      'either',
    ),
  (c) =>
    rest('POST /orders escaped \\u0000 in a payload value', 'POST', '/orders', orderBody(c, { payload: '{"note":"a\\u0000b"}' }), 'either'),
  (c) => rest('POST /orders escaped \\u0000 in a payload key', 'POST', '/orders', orderBody(c, { payload: '{"a\\u0000":1}' }), 'either'),
  (c) => rest('POST /orders lone surrogate in payload', 'POST', '/orders', orderBody(c, { payload: '{"s":"\\ud800"}' }), 'either'),
  (c) => rest('POST /orders lone surrogate in id', 'POST', '/orders', orderBody(c, { id: `"${orderId(c)}-\\udfff"` }), 'either'),
  (c) =>
    rest('POST /orders escaped \\u0000 in id', 'POST', '/orders', orderBody(c, { id: `"${orderId(c)}\\u0000"` }), 'reject', {
      status: [400],
    }),
  (c) => rest('POST /orders raw NUL between tokens', 'POST', '/orders', orderBody(c).replace(',', '\u0000,'), 'reject', { status: [400] }),
  (c) => rest('POST /orders duplicate id keys', 'POST', '/orders', orderBody(c).replace('{', `{"id":"${orderId(c)}-dup",`), 'either'),
  (c) =>
    rest('POST /orders duplicate payload keys', 'POST', '/orders', orderBody(c).replace(/}$/, ',"payload":{"second":true}}'), 'either'),
  (c) => rest('POST /orders __proto__ in payload', 'POST', '/orders', orderBody(c, { payload: '{"__proto__":{"admin":true}}' }), 'either'),
  (c) =>
    rest(
      'POST /orders/batch item with \\u0000 in payload',
      'POST',
      '/orders/batch',
      `{"orders":[${orderBody(c)},{"id":"${orderId(c)}-z","payload":{"x":"\\u0000"}}]}`,
      'either',
    ),
  (c) => rest('POST /orders no content-type', 'POST', '/orders', orderBody(c), 'reject', { headers: { ...AUTH } }),
  (c) => rest('POST /orders text/plain', 'POST', '/orders', orderBody(c), 'reject', { headers: { ...AUTH, 'content-type': 'text/plain' } }),
  (c) =>
    rest('POST /orders form-encoded', 'POST', '/orders', `id=${orderId(c)}&payload=x`, 'reject', {
      headers: { ...AUTH, 'content-type': FORM },
    }),
  (c) =>
    rest('POST /orders content-type upper case', 'POST', '/orders', orderBody(c), 'either', {
      headers: { ...AUTH, 'content-type': 'APPLICATION/JSON' },
    }),
];

const queryRest: Variant[] = [
  (c) => {
    const v = c.rng.pick(['-1', '0', 'abc', '1.5', '1001', '99999999999999999999999', 'NaN', 'Infinity', '-0', '1e400']);
    return rest(`GET /orders limit=${v}`, 'GET', `/orders?limit=${v}`, undefined, 'reject', { status: [400] });
  },
  (c) => {
    const v = c.rng.pick(['', '%20', '1e3', '+5', '%00', '0x10']);
    return rest(`GET /orders limit=${v} (edge)`, 'GET', `/orders?limit=${v}`, undefined, 'either');
  },
  () => rest('GET /orders limit repeated', 'GET', '/orders?limit=1&limit=2', undefined, 'either'),
  (c) =>
    rest('GET /orders status lower-case', 'GET', `/orders?status=${c.rng.pick(['pending', 'external', 'completed'])}`, undefined, 'either'),
  (c) =>
    rest(
      'GET /orders status unknown',
      'GET',
      `/orders?status=${c.rng.pick(['BOGUS', 'waitsellersend', '%00', 'PENDING%00', ''])}`,
      undefined,
      'reject',
    ),
  () => rest('GET /orders status repeated', 'GET', '/orders?status=PENDING&status=FAILED', undefined, 'either'),
  (c) => {
    const v = c.rng.pick(['garbage', 'AAAA', '%00', '!!!', 'eyJ', c.rng.word(40), '_'.repeat(100)]);
    return rest(`GET /orders cursor=${v.slice(0, 12)}`, 'GET', `/orders?cursor=${v}`, undefined, 'reject', { status: [400] });
  },
  () =>
    rest('GET /orders cursor of 10,000 characters', 'GET', `/orders?cursor=${'A'.repeat(10_000)}`, undefined, 'reject', { status: [400] }),
  (c) => {
    const shape = c.rng.pick([
      '["2026-01-01T00:00:00Z",1]',
      '[1,2]',
      '{}',
      '[]',
      'null',
      '["x"]',
      '"2026-01-01T00:00:00Z"',
      '["2026-01-01T00:00:00Z","x","y"]',
    ]);
    return rest(
      `GET /orders forged cursor ${shape}`,
      'GET',
      `/orders?cursor=${Buffer.from(shape).toString('base64url')}`,
      undefined,
      'reject',
      { status: [400] },
    );
  },
  (c) => {
    // Cursors of the right shape that the service never gave out: paging from them or a 400 are both fine.
    const shape = c.rng.pick([
      '["1","x"]',
      '["0","x"]',
      '["2026","x"]',
      '["Tue, 1 Jan 2026","x"]',
      '["+275760-09-13T00:00:00.000Z","x"]',
      '["-000001-01-01T00:00:00Z","x"]',
      '["2026-01-01T00:00:00Z","a\\u0000b"]',
      '["2026-01-01T00:00:00Z","\\ud800"]',
    ]);
    return rest(
      `GET /orders forged cursor ${shape}`,
      'GET',
      `/orders?cursor=${Buffer.from(shape).toString('base64url')}`,
      undefined,
      'either',
    );
  },
  () =>
    rest(
      'GET /orders cursor of a plausible shape',
      'GET',
      `/orders?cursor=${Buffer.from('["2026-01-01 00:00:00.123456+00","x"]').toString('base64url')}`,
      undefined,
      'either',
    ),
  (c) => {
    const v = c.rng.pick(['yesterday', '2026-02-30', '2026-13-01T00:00:00Z', '1700000000', 'null', '%00', '2026-01-01T25:00:00Z']);
    return rest(`GET /orders updatedSince=${v}`, 'GET', `/orders?updatedSince=${v}`, undefined, 'reject', { status: [400] });
  },
  (c) => {
    const v = c.rng.pick([
      '0000-01-01T00:00:00Z',
      '9999-12-31T23:59:59Z',
      '2026-01-01',
      '2026-01-01T00:00:00%2B14:00',
      '1969-12-31T23:59:59.999999999Z',
    ]);
    return rest(`GET /orders updatedSince=${v} (edge)`, 'GET', `/orders?updatedSince=${v}`, undefined, 'either');
  },
  () => rest('GET /orders supplierOrderId with %00', 'GET', '/orders?supplierOrderId=12%0034', undefined, 'either'),
  () => rest('GET /orders supplierStatus with %00', 'GET', '/orders?supplierStatus=wait%00', undefined, 'either'),
  () =>
    rest('GET /orders supplierOrderId of 10,000 characters', 'GET', `/orders?supplierOrderId=${'9'.repeat(10_000)}`, undefined, 'reject', {
      status: [400],
    }),
  () => rest('GET /orders supplierOrderId percent-encoded invalid UTF-8', 'GET', '/orders?supplierOrderId=%FF%FE', undefined, 'either'),
  () => rest('GET /orders invalid percent-encoding', 'GET', '/orders?supplierOrderId=%ZZ&status=%', undefined, 'either'),
  () => rest('GET /orders unknown parameter', 'GET', '/orders?foo=bar', undefined, 'either'),
  () => rest('GET /orders parameter as an object', 'GET', '/orders?status[a]=PENDING&limit[]=1', undefined, 'either'),
];

const pathRest: Variant[] = [
  (c) => rest('GET /orders/:id unknown', 'GET', `/orders/unknown-${c.rng.word(10)}`, undefined, 'reject', { status: [404] }),
  (c) => rest('GET /orders/<25-digit id>', 'GET', `/orders/${c.rng.digits(25)}`, undefined, 'reject', { status: [404] }),
  (c) => {
    const p = c.rng.pick(['%00', 'a%00b', '%00/events', 'a%00b/events']);
    return rest(`GET /orders/${p}`, 'GET', `/orders/${p}`, undefined, 'reject');
  },
  (c) => {
    const p = c.rng.pick(['..%2F', '..%2F..%2Fhealth%2Flive', '%2e%2e', '%2e%2e%2fqueues', '..%2Fevents', '.%2F']);
    return rest(`GET /orders/${p}`, 'GET', `/orders/${p}`, undefined, 'reject');
  },
  (c) => {
    const p = c.rng.pick(['%FF', '%C3%28', '%ED%A0%80', '%ZZ', '%', 'a%2', '%FF/events']);
    return rest(`GET /orders/${p} (bad encoding)`, 'GET', `/orders/${p}`, undefined, 'reject');
  },
  (c) => {
    const n = c.rng.pick([129, 1000, 10_000]);
    return rest(`GET /orders/<${n} chars>`, 'GET', `/orders/${'x'.repeat(n)}`, undefined, 'reject');
  },
  (c) => {
    const n = c.rng.pick([129, 1000, 10_000]);
    return rest(`GET /orders/<${n} chars>/events`, 'GET', `/orders/${'x'.repeat(n)}/events`, undefined, 'reject');
  },
  () => rest('GET /orders/<unicode>', 'GET', `/orders/${encodeURIComponent('订单-不存在-🚀')}`, undefined, 'reject', { status: [404] }),
  () =>
    rest('GET /orders/<unicode>/events', 'GET', `/orders/${encodeURIComponent('订单-不存在')}/events`, undefined, 'reject', {
      status: [404],
    }),
  (c) => {
    const p = c.rng.pick(['%0A', '%0D%0A', '%09', '%20', '%7F']);
    return rest(`GET /orders/x${p}y`, 'GET', `/orders/x${p}y`, undefined, 'reject');
  },
  (c) => {
    const p = c.rng.pick(['%00', '..%2F', 'x'.repeat(10_000), '%FF']);
    return rest(`GET /orders/${p.slice(0, 12)}/events`, 'GET', `/orders/${p}/events`, undefined, 'reject');
  },
  () => rest('GET //orders', 'GET', '//orders', undefined, 'either'),
  () => rest('GET /orders/ trailing slash', 'GET', '/orders/', undefined, 'either'),
  (c) => {
    const m = c.rng.pick(['PUT', 'PATCH', 'DELETE']);
    return rest(`${m} /orders/:id`, m, `/orders/${KNOWN_ORDER_ID}`, undefined, 'reject');
  },
  () => rest('POST /orders/:id/events', 'POST', `/orders/${KNOWN_ORDER_ID}/events`, '{}', 'reject'),
];

// ---------------------------------------------------------------------------------------------

/** Families with weights: valid variants are about a sixth of the mix. */
const FAMILIES: ReadonlyArray<[string, number, Variant[]]> = [
  ['1688 valid', 7, valid1688],
  ['1688 wrong types', 6, wrongType1688],
  ['1688 huge numbers', 4, huge1688],
  ['1688 broken JSON', 6, broken1688],
  ['1688 encodings', 5, encoding1688],
  ['1688 duplicates', 3, duplicates1688],
  ['1688 headers', 4, headers1688],
  ['1688 signatures', 6, signature1688],
  ['1688 sizes', 1.5, size1688],
  ['1688 paths', 1, paths1688],
  ['generic valid', 5, validGeneric],
  ['generic wrong types', 5, wrongTypeGeneric],
  ['generic huge/deep', 4, hugeGeneric],
  ['generic encodings', 5, encodingGeneric],
  ['generic headers', 5, headersGeneric],
  ['generic signatures', 6, signatureGeneric],
  ['generic sizes', 1, sizeGeneric],
  ['rest valid', 6, validRest],
  ['rest auth', 3, authRest],
  ['rest wrong types', 5, wrongTypeRest],
  ['rest huge/deep', 3, hugeRest],
  ['rest encodings', 5, encodingRest],
  ['rest query', 6, queryRest],
  ['rest paths', 5, pathRest],
];

export function generateCases(seed: number, count: number): Case[] {
  const rng = new Rng(mulberry32(seed));
  const total = FAMILIES.reduce((sum, [, weight]) => sum + weight, 0);
  const cases: Case[] = [];
  for (let index = 0; index < count; index++) {
    let roll = (rng.int(1_000_000) / 1_000_000) * total;
    let family = FAMILIES[FAMILIES.length - 1];
    for (const candidate of FAMILIES) {
      roll -= candidate[1];
      if (roll < 0) {
        family = candidate;
        break;
      }
    }
    const ctx: Ctx = { rng, index, seed };
    const variant = rng.pick(family[2]);
    const built = variant(ctx);
    cases.push({ ...built, name: `#${index} ${built.name}` });
  }
  return cases;
}
