// The fake 1688 Open API (tools/fake-1688-open-api.mjs) on its own, and with the push simulator
// handing it what was not delivered. No ordersync here.
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import {
  formatAliDate,
  parseAliDate,
  parseCliArgs,
  signParams,
  signedText,
  spawnFake1688OpenApi,
  startFake1688OpenApi,
} from '../tools/fake-1688-open-api.mjs';
import { buildMessage, changeOrderStatuses, formatChinaTime, planPushes, runSimulator, signMessage } from '../tools/simulator-1688.mjs';
import { eventually } from './support/service.js';

type Fake = Awaited<ReturnType<typeof startFake1688OpenApi>>;

const APP_KEY = '7654321';
const SECRET = 'open-api-secret';
const REFRESH = 'refresh-me';
const BIG = '9007199254740993123'; // 19 digits, far above 2^53
const MESSAGE_LIST = ['cn.alibaba.open', 'push.query.messageList'] as const;
const CONFIRM = ['cn.alibaba.open', 'push.message.confirm'] as const;
const ORDER_LIST = ['com.alibaba.trade', 'alibaba.trade.getBuyerOrderList'] as const;
const BUYER_VIEW = ['com.alibaba.trade', 'alibaba.trade.get.buyerView'] as const;

const fakes: Fake[] = [];
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all([...fakes.splice(0).map((f) => f.close({ graceMs: 100 })), ...closers.splice(0).map((c) => c())]);
});

async function fake(options: Parameters<typeof startFake1688OpenApi>[0] = {}): Promise<Fake> {
  const api = await startFake1688OpenApi({ appKey: APP_KEY, appSecret: SECRET, refreshToken: REFRESH, seed: 1, ...options });
  fakes.push(api);
  return api;
}

// --- A small signed-call helper, independent of the fake's own signing -------------------------

/** HEX UPPER HMAC-SHA1(secret, urlPath + sorted key+value strings), as 1688's SDKs sign. */
function sign(secret: string, urlPath: string, params: Record<string, string>): string {
  const pieces = Object.entries(params)
    .filter(([k]) => k !== '_aop_signature')
    .map(([k, v]) => k + v)
    .sort();
  return createHmac('sha1', secret)
    .update(urlPath + pieces.join(''), 'utf8')
    .digest('hex')
    .toUpperCase();
}

/**
 * A parsed JSON answer, walked without casts: every member is again a Json, and a leaf passes
 * as a string where one is wanted (a missing member is undefined at run time).
 */
type Json = string & { readonly [key: string]: Json; readonly [index: number]: Json };

interface Answer {
  status: number;
  contentType: string;
  text: string;
  /** JSON.parse of text, undefined when it is not JSON (ids above 2^53 rounded: check those in `text`). */
  body: Json;
}

interface CallOptions {
  token?: string;
  secret?: string;
  appKey?: string;
  /** null: no _aop_timestamp at all. */
  timestamp?: string | null;
  signature?: string;
  /** Parameters sent in the query string instead of the body (they are signed all the same). */
  query?: Record<string, string>;
}

async function call(
  api: Fake,
  [ns, name]: readonly [string, string],
  params: Record<string, string> = {},
  o: CallOptions = {},
): Promise<Answer> {
  const appKey = o.appKey ?? APP_KEY;
  const urlPath = `param2/1/${ns}/${name}/${appKey}`;
  const all: Record<string, string> = { ...params, ...o.query };
  if (o.timestamp !== null) all._aop_timestamp = o.timestamp ?? String(Date.now());
  if (o.token) all.access_token = o.token;
  const signature = o.signature ?? sign(o.secret ?? SECRET, urlPath, all);
  const bodyParams: Record<string, string> = { ...all, _aop_signature: signature };
  for (const key of Object.keys(o.query ?? {})) delete bodyParams[key];
  const qs = o.query ? `?${new URLSearchParams(o.query).toString()}` : '';
  const response = await fetch(`${api.url}/${urlPath}${qs}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
    body: new URLSearchParams(bodyParams),
  });
  const text = await response.text();
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', text, body: parseJson(text) };
}

function parseJson(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return undefined as unknown as Json;
  }
}

async function getToken(api: Fake, form: Record<string, string>, appKey = APP_KEY): Promise<Answer> {
  const response = await fetch(`${api.url}/http/1/system.oauth2/getToken/${appKey}`, { method: 'POST', body: new URLSearchParams(form) });
  const text = await response.text();
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', text, body: parseJson(text) };
}
const refreshForm = (refresh_token = REFRESH) => ({
  grant_type: 'refresh_token',
  client_id: APP_KEY,
  client_secret: SECRET,
  refresh_token,
});

/** A push message as the simulator builds it (orderId a bare number). */
function message(msgId: number, gmtBorn: number, orderId = BIG, status = 'waitsellersend', type = 'ORDER_BUYER_VIEW_ORDER_PAY'): string {
  return buildMessage({ msgId, type, gmtBorn, orderId, status, msgSendTime: formatChinaTime(gmtBorn) });
}
const msgIdsOf = (text: string) => [...text.matchAll(/"msgId":(\d+)/g)].map((m) => m[1]);

describe('fake 1688 Open API: signatures', () => {
  it('signs exactly as the independent Python vectors say', () => {
    const fixture = JSON.parse(readFileSync(new URL('./fixtures/1688-open-api-signatures.json', import.meta.url), 'utf8')) as {
      vectors: Array<{ name: string; urlPath: string; params: Record<string, string>; secret: string; signed: string; signature: string }>;
    };
    expect(fixture.vectors.map((v) => v.name)).toEqual([
      'push-contract',
      'trade-order-list',
      'confirm-big-ids',
      'empty-value',
      'key-value-order',
      'utf16-order',
    ]);
    for (const v of fixture.vectors) {
      expect(signedText(v.urlPath, v.params), v.name).toBe(v.signed);
      expect(signParams(v.secret, v.urlPath, v.params), v.name).toBe(v.signature);
      expect(signParams(v.secret, v.urlPath, new Map(Object.entries(v.params))), v.name).toBe(v.signature);
    }
    const push = fixture.vectors[0];
    expect(push.signature).toBe('607268A312164B246810C1E4D054C0710D03D9FC');
    expect(signMessage(push.secret, push.params.message)).toBe(push.signature);
  });

  it('accepts a right signature (any case, query parameters included) and refuses everything else with 1688 errors', async () => {
    const api = await fake();
    const ok = await call(api, MESSAGE_LIST, { page: '1' });
    expect(ok).toMatchObject({ status: 200, body: { pushMessagePage: { datas: [], totalCount: 0 } } });
    expect(ok.contentType).toContain('application/json');
    // Parameters in the query string take part as body parameters do.
    const queried = await call(api, MESSAGE_LIST, { page: '1' }, { query: { type: 'ORDER_BUYER_VIEW_ORDER_PAY' } });
    expect(queried.status).toBe(200);
    // 1688 sends upper case; any case is accepted.
    const stamp = String(Date.now());
    const right = sign(SECRET, `param2/1/${MESSAGE_LIST.join('/')}/${APP_KEY}`, { page: '1', _aop_timestamp: stamp });
    expect((await call(api, MESSAGE_LIST, { page: '1' }, { timestamp: stamp, signature: right.toLowerCase() })).status).toBe(200);

    const refusals: Array<[Promise<Answer>, number, string]> = [
      [call(api, MESSAGE_LIST, { page: '1' }, { secret: 'wrong' }), 400, 'gw.SignatureInvalid'],
      [call(api, MESSAGE_LIST, { page: '1' }, { signature: '' }), 400, 'gw.SignatureMissing'],
      [call(api, MESSAGE_LIST, { page: '1' }, { appKey: '1111111' }), 400, 'gw.AppKeyNotFound'],
      [call(api, MESSAGE_LIST, { page: '1' }, { timestamp: null }), 400, 'gw.ParamMissing'],
      [call(api, MESSAGE_LIST, { page: '1' }, { timestamp: String(Date.now() - 3_600_000) }), 400, 'gw.ParamInvalid'],
      [call(api, ['cn.alibaba.open', 'push.nothing'], {}), 400, 'gw.APIUnsupported'],
      [call(api, MESSAGE_LIST, { createStartTime: 'yesterday' }), 400, 'gw.ParamInvalid'],
    ];
    for (const [pending, status, code] of refusals) {
      const answer = await pending;
      expect(answer.status, code).toBe(status);
      expect(answer.body, code).toMatchObject({ error_code: code, error_message: expect.any(String), request_id: expect.any(String) });
    }
    // A signed parameter changed on the way: the signature no longer matches.
    const tampered = sign(SECRET, `param2/1/${MESSAGE_LIST.join('/')}/${APP_KEY}`, { page: '1', _aop_timestamp: stamp });
    expect((await call(api, MESSAGE_LIST, { page: '2' }, { timestamp: stamp, signature: tampered })).body.error_code).toBe(
      'gw.SignatureInvalid',
    );

    const { outcomes } = api.stats().byApi['push.query.messageList'];
    expect(outcomes).toMatchObject({ ok: 3, badSignature: 2, missingSignature: 1, badAppKey: 1, badTimestamp: 2, badParam: 1 });
    expect(api.stats().byApi['push.nothing'].outcomes).toEqual({ unknownApi: 1 });
  });
});

describe('fake 1688 Open API: tokens', () => {
  it('needs a valid token for trade APIs only, refreshes it, refuses a wrong refresh token, and lets tokens expire', async () => {
    const api = await fake({ accessToken: 'initial-token', accessTokenTtlSec: 36_000 });
    expect((await call(api, MESSAGE_LIST)).status).toBe(200); // push APIs need none
    const none = await call(api, ORDER_LIST);
    expect(none).toMatchObject({
      status: 401,
      body: { error_code: '401', error_message: 'Request need user authenticated', exception: 'access_token is missing' },
    });
    expect((await call(api, ORDER_LIST, {}, { token: 'made-up' })).body.exception).toBe('access_token is invalid');
    expect((await call(api, ORDER_LIST, {}, { token: 'initial-token' })).status).toBe(200);

    const wrong = await getToken(api, refreshForm('stolen'));
    expect(wrong).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant', error_description: expect.stringContaining('refresh_token') },
    });
    expect((await getToken(api, { ...refreshForm(), client_secret: 'nope' })).body.error).toBe('invalid_client');
    expect((await getToken(api, { ...refreshForm(), grant_type: 'authorization_code' })).body.error).toBe('unsupported_grant_type');
    expect((await getToken(api, refreshForm(), '1111111')).status).toBe(401);

    const fresh = await getToken(api, refreshForm());
    expect(fresh).toMatchObject({
      status: 200,
      body: { access_token: expect.any(String), expires_in: '36000', memberId: expect.any(String) },
    });
    expect((await call(api, ORDER_LIST, {}, { token: fresh.body.access_token })).status).toBe(200);

    // Tokens that live one second: refused as expired once the second is over.
    api.configure({ accessTokenTtlSec: 1, expiresInAs: 'number' });
    const short = await getToken(api, refreshForm());
    expect(short.body.expires_in).toBe(1);
    const expired = await eventually(
      async () => {
        const answer = await call(api, ORDER_LIST, {}, { token: short.body.access_token });
        return answer.status === 401 ? answer : undefined;
      },
      5_000,
      'the one-second token to expire',
    );
    expect(expired.body.exception).toBe('access_token is expired');
    expect((await call(api, ORDER_LIST, {}, { token: fresh.body.access_token })).status).toBe(200);

    api.expireTokens();
    expect((await call(api, ORDER_LIST, {}, { token: 'initial-token' })).body.exception).toBe('access_token is expired');
    expect(api.tokenRefreshes()).toBe(2);
    expect(api.stats()).toMatchObject({ tokenRefreshes: 2, tokenRefreshFailures: 4, tokensValid: 0 });
    expect(api.stats().byApi['alibaba.trade.getBuyerOrderList'].outcomes).toMatchObject({
      badToken: 2,
      expiredToken: 2,
      ok: expect.any(Number),
    });
  });
});

describe('fake 1688 Open API: messages', () => {
  it('pages unconfirmed messages oldest first; confirming page 1 shifts page 2; confirms are counted per msgId', async () => {
    const api = await fake();
    const t0 = Date.now() - 3_600_000;
    // 50 messages, added out of order; the answer orders them by gmtBorn.
    const texts = Array.from({ length: 50 }, (_, i) => message(1000 + i, t0 + i * 1000, String(167539019420540000n + BigInt(i))));
    expect(api.addMessages([...texts].reverse())).toEqual({ added: 50, duplicates: 0 });
    expect(api.addMessages([texts[0]])).toEqual({ added: 0, duplicates: 1 });
    api.addMessage(message(1, Date.now() - 8 * 24 * 3_600_000)); // older than 7 days: gone
    expect(api.pendingMessages()).toBe(50);

    const page = async (n: number, extra: Record<string, string> = {}) => {
      const answer = await call(api, MESSAGE_LIST, { page: String(n), pageSize: '20', ...extra });
      expect(answer.status).toBe(200);
      return { ids: msgIdsOf(answer.text), total: Number(answer.body.pushMessagePage.totalCount), text: answer.text };
    };
    const [p1, p2, p3] = [await page(1), await page(2), await page(3)];
    expect(p1.ids).toEqual(Array.from({ length: 20 }, (_, i) => String(1000 + i)));
    expect(p2.ids[0]).toBe('1020');
    expect(p3.ids).toHaveLength(10);
    expect([p1.total, p2.total, p3.total]).toEqual([50, 50, 50]);
    // Each message exactly as pushed: orderId a bare number, every digit.
    expect(p1.text).toContain(`${texts[0]},${texts[1]}`);
    expect(p1.text).toContain('"orderId":167539019420540000,');

    // The query does not confirm: the same page again. Confirming page 1 makes page 2 the new page 1.
    expect((await page(1)).ids).toEqual(p1.ids);
    const confirm = await call(api, CONFIRM, { msgIdList: `[${p1.ids.join(',')}]` });
    expect(confirm).toMatchObject({ status: 200, body: { isSuccess: true } });
    const after = await page(1);
    expect(after.ids).toEqual(p2.ids);
    expect(after.total).toBe(30);
    expect((await page(2)).ids).toEqual(p3.ids);
    expect(api.pendingMessages()).toBe(30);

    // Confirm counts per msgId: a second confirm of one id, an unknown id, big ids kept whole.
    await call(api, CONFIRM, { msgIdList: `["${p1.ids[0]}",${BIG}]` });
    expect(api.confirmCount(p1.ids[0])).toBe(2);
    expect(api.confirmCount(p1.ids[1])).toBe(1);
    expect(api.confirmCount(BIG)).toBe(1);
    expect(api.stats().messages).toMatchObject({ held: 51, pending: 30, confirmed: 20, confirmCalls: 2, confirmedMoreThanOnce: 1 });
    expect((await call(api, CONFIRM, { msgIdList: '[1,x]' })).body.error_code).toBe('gw.ParamInvalid');

    // Windows in either date form give the same answer; type filters; pageSize is clamped to 20..200.
    const from = t0 + 25_000;
    const to = t0 + 34_999;
    const byMs = await page(1, { createStartTime: String(from), createEndTime: String(to) });
    const byDate = await page(1, { createStartTime: formatAliDate(from), createEndTime: formatAliDate(to) });
    expect(byMs.ids).toEqual(Array.from({ length: 10 }, (_, i) => String(1025 + i)));
    expect(byDate.ids).toEqual(byMs.ids);
    expect(formatAliDate(from)).toMatch(/^\d{17}\+0800$/);
    expect(parseAliDate(formatAliDate(from))).toEqual({ ms: from, form: 'date' });
    expect(api.stats().dateForms).toEqual({ ms: 2, date: 2 });
    api.addMessage(message(2000, t0 + 60_000, BIG, 'success', 'ORDER_BUYER_VIEW_ORDER_SUCCESS'));
    const success = await page(1, { type: 'ORDER_BUYER_VIEW_ORDER_SUCCESS' });
    expect(success.ids).toEqual(['2000']);
    expect(success.text).toContain(`"orderId":${BIG},`);
    expect(msgIdsOf((await call(api, MESSAGE_LIST, { pageSize: '5' })).text)).toHaveLength(20);
    expect(msgIdsOf((await call(api, MESSAGE_LIST, { pageSize: '500' })).text)).toHaveLength(31);
    expect(api.stats().pageSizeClamped).toBe(2);
    // The message older than seven days never shows, not even in a window around it.
    expect((await page(1, { createEndTime: String(t0) })).total).toBe(0);
    expect(api.messages({ pendingOnly: true }).map((m) => m.msgId)).not.toContain('1');
    expect(api.messages().find((m) => m.msgId === '1')).toMatchObject({ expired: true, confirmed: false });
  });
});

describe('fake 1688 Open API: orders', () => {
  it('seeds 100,000 orders quickly, lists them by modify time and reads one, ids digit for digit', async () => {
    const api = await fake();
    const started = performance.now();
    const now = Date.now();
    expect(api.seedOrders({ count: 100_000, createEnd: now - 3_600_000, stepMs: 10 })).toEqual({
      first: '167539019420540001',
      last: '167539019420640000',
      count: 100_000,
    });
    expect(performance.now() - started).toBeLessThan(5_000);
    api.addOrders([{ id: BIG, status: 'waitsellersend', createTime: now - 7_200_000 }]);
    const token = api.issueAccessToken();

    // Five changes at 1688 within the last minute; one with a push message kept in the store.
    const changed = ['167539019420540001', '167539019420550000', '167539019420600000', '167539019420640000', BIG];
    changed.forEach((id, i) => api.setOrderStatus(id, i % 2 ? 'cancel' : 'waitsellersend', { modifyTime: now - 50_000 + i * 1000 }));
    const { order, message: pushed } = api.setOrderStatus(BIG, 'terminated', { emitMessage: true });
    expect(order.modifyTime).toBeGreaterThan(now - 46_000);
    expect(pushed).toContain(`"orderId":${BIG},`);
    expect(pushed).toContain('"currentStatus":"terminated"');
    expect(api.pendingMessages()).toBe(1);

    const list = (extra: Record<string, string>) => call(api, ORDER_LIST, extra, { token });
    const recent = await list({
      modifyStartTime: formatAliDate(now - 60_000),
      modifyEndTime: formatAliDate(Date.now() + 1000),
      pageSize: '50',
    });
    expect(recent.status).toBe(200);
    expect(recent.body.totalRecord).toBe(5);
    const ids = [...recent.text.matchAll(/"id":(\d+),"idOfStr":"(\d+)"/g)].map((m) => (m[1] === m[2] ? m[1] : `mismatch ${m[1]} ${m[2]}`));
    expect(ids).toEqual(['167539019420640000', '167539019420600000', '167539019420550000', '167539019420540001', BIG]); // newest created first
    expect(recent.body.result[0].baseInfo).toMatchObject({
      status: expect.any(String),
      modifyTime: expect.stringMatching(/^\d{17}\+0800$/),
      createTime: expect.stringMatching(/^\d{17}\+0800$/),
    });

    // Paging through everything: pageSize is at most 50, totalRecord counts all.
    const all = await list({ page: '2', pageSize: '80' });
    expect(all.body.totalRecord).toBe(100_001);
    expect(all.body.result).toHaveLength(50);
    const last = await list({ page: '2001', pageSize: '50' });
    expect(last.body.result).toHaveLength(1);
    expect(last.text).toContain(`"id":${BIG},`); // created first, listed last

    const view = await call(api, BUYER_VIEW, { webSite: '1688', orderId: BIG }, { token });
    expect(view.status).toBe(200);
    expect(view.text).toContain(`{"result":{"baseInfo":{"id":${BIG},"idOfStr":"${BIG}","status":"terminated"`);
    expect(view.body.success).toBe('true');
    const missing = await call(api, BUYER_VIEW, { webSite: '1688', orderId: '167539019420999999' }, { token });
    expect(missing).toMatchObject({
      status: 200,
      body: { success: 'false', errorCode: 'ORDER_NOT_EXIST', errorMessage: expect.any(String) },
    });
    expect((await call(api, BUYER_VIEW, { orderId: BIG }, { token })).body.error_code).toBe('gw.ParamMissing');
    expect(api.getOrder(BIG)).toMatchObject({ id: BIG, status: 'terminated' });
    expect(api.stats().byApi['alibaba.trade.get.buyerView'].outcomes).toMatchObject({ ok: 1, notFound: 1, badParam: 1 });
  });
});

describe('fake 1688 Open API: rate limit and faults', () => {
  it('answers gw.QosAppFrequencyLimit over its rate and records the most calls in any second', async () => {
    const api = await fake({ rateLimit: 5 });
    const answers = await Promise.all(Array.from({ length: 12 }, () => call(api, MESSAGE_LIST)));
    const qos = answers.filter((a) => a.body.error_code === 'gw.QosAppFrequencyLimit');
    expect(answers.filter((a) => a.status === 200)).toHaveLength(5);
    expect(qos).toHaveLength(7);
    expect(qos[0]).toMatchObject({ status: 400, body: { error_message: expect.stringContaining('frequency') } });
    expect(api.stats()).toMatchObject({ calls: 12, maxCallsPerSecond: 12, maxAcceptedPerSecond: 5, rejectedForRate: 7 });
    expect(api.stats().byApi['push.query.messageList'].outcomes).toEqual({ ok: 5, rateLimited: 7 });

    // A client that keeps to 5 calls in every second is never refused, and the counter says so.
    api.resetStats();
    api.configure({ rateLimit: 0 });
    for (let i = 0; i < 3; i++) await call(api, MESSAGE_LIST);
    expect(api.maxCallsPerSecond()).toBe(3);
    expect(api.callsByApi()).toEqual({ 'push.query.messageList': 3 });
  });

  it('injects every fault kind, scripted per call or at a rate', async () => {
    const api = await fake();
    api.addMessage(message(42, Date.now() - 1000));
    api.script('push.message.confirm', [
      'qos',
      'qos200',
      '503',
      '502:errorCode',
      'error200',
      'bad-signature',
      'token-expired',
      'close-before',
      'not-json',
      'missing-fields',
      'slow:300',
      'close',
      'ok',
    ]);
    const confirm = () => call(api, CONFIRM, { msgIdList: '[42]' });
    const before: Array<[number, Record<string, unknown>]> = [
      [400, { error_code: 'gw.QosAppFrequencyLimit' }],
      [200, { success: false, errorCode: 'gw.QosAppFrequencyLimit', errorMessage: expect.any(String) }],
      [503, { error_code: 'gw.ISPInvokeError', error_message: expect.any(String) }],
      [502, { success: false, errorCode: '502', errorMessage: expect.any(String) }],
      [200, { success: false, errorCode: 'ISPInvokeError' }],
      [400, { error_code: 'gw.SignatureInvalid' }],
      [401, { error_code: '401', exception: expect.stringContaining('expired') }],
    ];
    for (const [status, body] of before) expect(await confirm()).toMatchObject({ status, body });
    await expect(confirm()).rejects.toThrow(); // close-before: no answer at all
    expect(api.confirmCount(42)).toBe(0); // none of these reached the API

    const garbled = await confirm();
    expect(garbled.status).toBe(200);
    expect(garbled.contentType).toContain('text/html');
    expect(garbled.body).toBeUndefined();
    expect((await confirm()).text).toBe('{}'); // missing-fields: no isSuccess
    const slowStart = performance.now();
    expect((await confirm()).body).toEqual({ isSuccess: true });
    expect(performance.now() - slowStart).toBeGreaterThanOrEqual(290);
    await expect(confirm()).rejects.toThrow(); // close: confirmed, answer lost
    expect((await confirm()).body).toEqual({ isSuccess: true });
    expect(api.confirmCount(42)).toBe(5); // not-json, missing-fields, slow, close and ok ran the API
    expect(api.stats().byApi['push.message.confirm'].outcomes).toMatchObject({
      'injected:qos': 1,
      'injected:503:error_code': 1,
      'injected:close': 1,
      ok: 1,
    });

    // Missing fields, per API.
    const token = api.issueAccessToken();
    api.addOrders([{ id: BIG, status: 'success' }]);
    api.script('*', ['missing-fields', 'missing-fields', 'missing-fields']);
    expect((await call(api, MESSAGE_LIST)).body).toEqual({ pushMessagePage: { totalCount: 0 } });
    const list = await call(api, ORDER_LIST, {}, { token });
    expect(list.body.totalRecord).toBeUndefined();
    expect(list.body.result[0].baseInfo.status).toBeUndefined();
    expect((await call(api, BUYER_VIEW, { webSite: '1688', orderId: BIG }, { token })).body.result.baseInfo.modifyTime).toBeUndefined();
    api.script('getToken', ['missing-fields', '500']);
    expect((await getToken(api, refreshForm())).body.access_token).toBeUndefined();
    expect((await getToken(api, refreshForm())).status).toBe(500);

    // At a rate: every call a 503 in the errorCode form, then latency on every answer.
    api.configure({ error5xx: 1, error5xxForm: 'errorCode' });
    expect(await call(api, MESSAGE_LIST)).toMatchObject({ status: 503, body: { success: false, errorCode: '503' } });
    api.configure({ error5xx: 0, notJson: 0.5, missingFields: 0.5, seed: 7 });
    const kinds = new Set(
      (await Promise.all(Array.from({ length: 20 }, () => call(api, MESSAGE_LIST)))).map((a) =>
        a.body === undefined ? 'not-json' : 'missing',
      ),
    );
    expect(kinds).toEqual(new Set(['not-json', 'missing']));
    api.configure({ notJson: 0, missingFields: 0, latencyMs: 150 });
    const t = performance.now();
    expect((await call(api, MESSAGE_LIST)).status).toBe(200);
    expect(performance.now() - t).toBeGreaterThanOrEqual(140);
    expect(() => api.configure({ qos: 0.7, error200: 0.7 })).toThrow(/more than 1/);
    expect(() => api.script('x', ['teapot'])).toThrow(/unknown answer/);
  });
});

// --- The push simulator hands 1688's undelivered messages to the fake ---------------------------

interface Receiver {
  baseUrl: string;
  /** msgId -> requests that carried it */
  seen: Map<string, number>;
}

/** A push receiver that acknowledges everything except the msgIds `refuse` picks (503). */
async function receiver(refuse: (msgId: string) => boolean = () => false): Promise<Receiver> {
  const seen = new Map<string, number>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('message') ?? '';
      const msgId = /^\{"msgId":(\d+),/.exec(text)?.[1] ?? '?';
      seen.set(msgId, (seen.get(msgId) ?? 0) + 1);
      const status = refuse(msgId) ? 503 : 200;
      res.writeHead(status, { 'content-type': 'application/json' }).end(status === 200 ? '{"success":true}' : '{"error":"down"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

/** Pulls like ordersync would: page 1 again and again, confirming each page, until empty. */
async function pullAll(api: Fake): Promise<string[]> {
  const pulled: string[] = [];
  for (let round = 0; round < 100; round++) {
    const answer = await call(api, MESSAGE_LIST, { page: '1', pageSize: '20' });
    const ids = msgIdsOf(answer.text);
    if (ids.length === 0) return pulled;
    pulled.push(...ids);
    await call(api, CONFIRM, { msgIdList: `[${ids.join(',')}]` });
  }
  throw new Error('the store never emptied');
}

describe('push simulator with the fake Open API', () => {
  it('puts dropped and given-up pushes into the store, registers orders, and changes statuses silently', async () => {
    const api = await fake();
    const base = { appSecret: SECRET, count: 12, cancelRate: 0.2, seed: 5, msgIdBase: 9_000_000 };
    const plan = planPushes({ ...base, dropRate: 0.2, dropMsgIds: [9_000_001] });
    const dropped = new Set(plan.deliveries.filter((d) => d.dropped).map((d) => String(d.msgId)));
    expect(dropped.has('9000001')).toBe(true);
    expect(dropped.size).toBe(plan.dropped);
    // Drops leave the rest of the plan as it was.
    expect(plan.deliveries.map((d) => d.message)).toEqual(planPushes(base).deliveries.map((d) => d.message));
    // Two messages the receiver never acknowledges: 1688 gives up after three re-sends.
    const refused = plan.deliveries
      .map((d) => String(d.msgId))
      .filter((id) => !dropped.has(id))
      .slice(0, 2);
    const push = await receiver((msgId) => refused.includes(msgId));
    const startedAt = Date.now();

    const report = await runSimulator({
      ...base,
      target: push.baseUrl,
      openApi: api,
      dropRate: 0.2,
      dropMsgIds: [9_000_001],
      silentChangeRate: 0.5,
      rate: 0,
      retries: 3,
      retryBaseMs: 5,
    });
    for (const id of dropped) expect(push.seen.has(id)).toBe(false);
    for (const id of refused) expect(push.seen.get(id)).toBe(4);
    expect(report).toMatchObject({
      failed: 2,
      dropped: dropped.size,
      droppedMessages: dropped.size,
      handedToStoreByReason: { dropped: dropped.size, failed: 2, notSent: 0 },
      storeErrors: [],
    });
    expect(report.sent + report.dropped + report.notSent).toBe(plan.deliveries.length);

    // The store holds exactly what was not acknowledged, shaped as pushed.
    const unacknowledged = new Set([...dropped, ...refused]);
    const held = api.messages();
    expect(new Set(held.map((m) => m.msgId))).toEqual(unacknowledged);
    expect(report.unacknowledgedMessages).toBe(unacknowledged.size);
    expect(report.handedToStore).toBe(unacknowledged.size);
    const byId = new Map(plan.deliveries.map((d) => [String(d.msgId), d.message]));
    for (const m of held) expect(m.text).toBe(byId.get(m.msgId));

    // 1688's orders: every one, with its final status; silent changes only there, never pushed.
    expect(report.ordersRegistered).toBe(12);
    expect(report.silentChanges.length).toBeGreaterThan(0);
    const orders = new Map(api.orders().map((o) => [o.id, o]));
    expect(Object.fromEntries([...orders].map(([id, o]) => [id, o.status]))).toEqual(report.finalStatusAt1688);
    for (const change of report.silentChanges) {
      expect(change.status).toBe({ waitbuyerpay: 'cancel', waitsellersend: 'cancel' }[change.from as string] ?? 'terminated');
      expect(orders.get(change.orderId)!.modifyTime).toBeGreaterThanOrEqual(startedAt);
      expect(report.finalStatusAt1688[change.orderId]).not.toBe(report.lastStatusByOrder[change.orderId]);
    }
    expect(api.pendingMessages()).toBe(unacknowledged.size); // silent changes left no message

    // Only a pull recovers them, each confirmed once.
    const pulled = await pullAll(api);
    expect(new Set(pulled)).toEqual(unacknowledged);
    expect(pulled).toHaveLength(unacknowledged.size);
    expect(api.pendingMessages()).toBe(0);
    expect(Object.values(api.confirmCounts())).toEqual([...unacknowledged].map(() => 1));
  });

  it('hands messages over by URL too, including those an abort left unsent, and changes statuses by URL', async () => {
    const api = await fake();
    const push = await receiver();
    const controller = new AbortController();
    controller.abort();
    const report = await runSimulator({
      target: push.baseUrl,
      openApi: api.baseUrl,
      appSecret: SECRET,
      count: 5,
      cancelRate: 0,
      seed: 2,
      msgIdBase: 7_000_000,
      signal: controller.signal,
    });
    expect(report).toMatchObject({
      aborted: true,
      sent: 0,
      notSent: 25,
      handedToStore: 25,
      handedToStoreByReason: { notSent: 25 },
      ordersRegistered: 5,
      storeErrors: [],
    });
    expect(api.pendingMessages()).toBe(25);
    expect(new Set(api.orders().map((o) => o.status))).toEqual(new Set(['success']));

    const [first] = api.orders();
    const changed = await changeOrderStatuses(api.baseUrl, [{ orderId: first.id, status: 'terminated', refundStatus: 'refundsuccess' }]);
    expect(changed).toEqual([{ orderId: first.id, status: 'terminated', modifyTime: expect.any(Number) }]);
    expect(api.getOrder(first.id)).toMatchObject({ status: 'terminated', refundStatus: 'refundsuccess' });
    await changeOrderStatuses(api, [{ orderId: first.id, status: 'cancel', emitMessage: true }]);
    expect(api.pendingMessages()).toBe(26);
    await expect(changeOrderStatuses(api.baseUrl, [{ orderId: '12345', status: 'cancel' }])).rejects.toThrow(/no order 12345/);

    // A store that is not there: the run still ends, and says so.
    const gone = await runSimulator({
      target: push.baseUrl,
      openApi: 'http://127.0.0.1:9',
      registerOrders: false,
      appSecret: SECRET,
      count: 2,
      dropRate: 1,
      seed: 3,
      rate: 0,
    });
    expect(gone.handedToStore).toBe(gone.messages);
    expect(gone.storeErrors.length).toBeGreaterThan(0);
  });
});

describe('fake 1688 Open API: CLI', () => {
  it('parses flags over FAKE_1688_* variables, runs as a child process with admin routes, and sums up on exit', async () => {
    const { options } = parseCliArgs(['--rate-limit', '7', '--error5xx=0.1', '--access-token', ''], {
      FAKE_1688_APP_KEY: '42',
      FAKE_1688_RATE_LIMIT: '3',
    });
    expect(options).toMatchObject({ port: 4100, appKey: '42', rateLimit: 7, error5xx: 0.1, accessToken: '' });
    expect(() => parseCliArgs(['--qos', '2'], {})).toThrow(/qos must be a probability/);
    expect(() => parseCliArgs(['--bogus', '1'], {})).toThrow(/unknown flag --bogus/);

    const child = await spawnFake1688OpenApi({ appKey: APP_KEY, appSecret: SECRET, rateLimit: 50 });
    closers.push(async () => void (await child.kill()));
    expect(await child.admin('POST', '/_admin/messages', { messages: [message(77, Date.now())] })).toEqual({ added: 1, duplicates: 0 });
    await child.admin('POST', '/_admin/orders', { seed: { count: 3 } });
    await child.admin('POST', '/_admin/orders/status', { changes: [{ id: '167539019420540002', status: 'cancel' }] });
    expect(await child.admin('GET', '/_admin/orders/167539019420540002')).toMatchObject({ status: 'cancel' });
    await child.admin('POST', '/_admin/script', { api: 'push.query.messageList', answers: ['qos200'] });
    const asClient = { url: child.url } as Fake;
    expect((await call(asClient, MESSAGE_LIST)).body.errorCode).toBe('gw.QosAppFrequencyLimit');
    expect(msgIdsOf((await call(asClient, MESSAGE_LIST)).text)).toEqual(['77']);
    const stats = await child.admin('GET', '/_admin/stats');
    expect(stats).toMatchObject({ calls: 2, orders: 3, messages: { pending: 1 } });
    await expect(child.admin('POST', '/_admin/config', { port: 1 })).rejects.toThrow(/cannot change at runtime/);
    const exit = await child.stop();
    expect(exit.code).toBe(0);
    expect(exit.output).toMatch(/fake-1688-open-api stopped \(SIGTERM\): calls=2 .*messagesPending=1 .*orders=3/);
  });
});
