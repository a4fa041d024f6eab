// @ts-check
// The fake 1688 Open API's core (tools/fake-1688-open-api.mjs): the checks every call goes through,
// the API handlers, faults and scripts, tokens, counters, and the test API over the two stores.

import { performance } from 'node:perf_hooks';
import { DEFAULT_USER_INFO, TOPIC_BY_STATUS, buildMessage, formatChinaTime } from '../simulator-1688.mjs';
import { OK, QOS_MESSAGE, beforeRun, bizError, gwError, later, needAuth, ok, parseAnswer, send } from './fake-1688-answers.mjs';
import { FAULTS, mergeConfig } from './fake-1688-config.mjs';
import { mulberry32 } from './harness-prng.mjs';
import { MessageStore, OrderStore, baseInfoJson } from './fake-1688-stores.mjs';
import {
  SlidingWindow,
  digitsOf,
  parseAliDate,
  parseIdList,
  parseParams,
  readBody,
  signParams,
  signatureMatches,
} from './fake-1688-util.mjs';

/** @typedef {import('./fake-1688-config.mjs').Fake1688Config} Fake1688Config */
/** @typedef {import('./fake-1688-answers.mjs').Answer} Answer */
/** @typedef {import('./fake-1688-answers.mjs').Outcome} Outcome */

/** Topics for statuses the simulator has none for. */
const EXTRA_TOPICS = /** @type {Record<string, string>} */ ({
  terminated: 'ORDER_BUYER_VIEW_ORDER_BOPS_CLOSE',
  confirm_goods_and_has_subsidy: 'ORDER_BUYER_VIEW_ORDER_COMFIRM_RECEIVEGOODS',
});

// ---------------------------------------------------------------------------------------------
// The fake itself

/**
 * Counters of one API.
 * @typedef {object} ApiStats
 * @property {number} calls
 * @property {Record<string, number>} outcomes ok, rateLimited, badAppKey, missingSignature,
 *   badSignature, badTimestamp, badToken, expiredToken, badParam, notFound, unknownApi,
 *   tokenRefused, and injected:<answer> for faults
 */

/**
 * What stats() answers.
 * @typedef {object} Fake1688Stats
 * @property {number} calls API calls received (param2 routes), refused ones included
 * @property {Record<string, number>} callsByApi
 * @property {Record<string, ApiStats>} byApi the token route is "getToken"
 * @property {Record<string, number>} outcomes over all APIs
 * @property {number} maxCallsPerSecond most API calls received in any sliding second
 * @property {number} maxAcceptedPerSecond most API calls let through the rate limit in any sliding second
 * @property {number} rejectedForRate
 * @property {number} inFlight
 * @property {number} maxInFlight
 * @property {number} tokenRefreshes tokens issued by getToken
 * @property {number} tokenRefreshFailures getToken calls refused
 * @property {number} tokensValid
 * @property {{ held: number, pending: number, confirmed: number, confirmCalls: number, confirmedMoreThanOnce: number }} messages
 * @property {number} orders
 * @property {{ ms: number, date: number }} dateForms date parameters seen, by form
 * @property {number} pageSizeClamped pageSize values out of the documented range
 */

/** @param {Fake1688Config} initial */
export function createCore(initial) {
  let config = initial;
  let rng = mulberry32(config.seed);
  const messages = new MessageStore();
  const orders = new OrderStore();
  /** @type {Map<string, number>} access token -> expires at (epoch ms) */
  let tokens = new Map();
  let tokenCounter = 0;
  let msgCounter = 0;
  const now = () => Date.now();

  const newState = () => ({
    calls: 0,
    rejectedForRate: 0,
    inFlight: 0,
    maxInFlight: 0,
    tokenRefreshes: 0,
    tokenRefreshFailures: 0,
    confirmCalls: 0,
    pageSizeClamped: 0,
    dateForms: { ms: 0, date: 0 },
    /** @type {Map<string, ApiStats>} */
    byApi: new Map(),
    /** @type {Map<string, number>} */
    outcomes: new Map(),
    received: new SlidingWindow(),
    accepted: new SlidingWindow(),
    /** @type {Map<string, Outcome[]>} */
    scripts: new Map(),
  });
  let state = newState();

  /** @param {number} [ttlSec] */
  function issueToken(ttlSec = config.accessTokenTtlSec) {
    const token = `fake-at-${++tokenCounter}-${Math.floor(rng() * 0xffffffff)
      .toString(16)
      .padStart(8, '0')}`;
    tokens.set(token, now() + ttlSec * 1000);
    return token;
  }
  const resetTokens = () => {
    tokens = new Map();
    if (config.accessToken) tokens.set(config.accessToken, now() + config.accessTokenTtlSec * 1000);
  };
  resetTokens();

  /** @param {string} api */
  function apiStats(api) {
    let e = state.byApi.get(api);
    if (!e) state.byApi.set(api, (e = { calls: 0, outcomes: {} }));
    return e;
  }
  /** @param {ApiStats} e @param {string} label */
  function bump(e, label) {
    e.outcomes[label] = (e.outcomes[label] ?? 0) + 1;
    state.outcomes.set(label, (state.outcomes.get(label) ?? 0) + 1);
  }

  /** @param {string} scriptKey @returns {Outcome} */
  function nextOutcome(scriptKey) {
    for (const key of scriptKey === 'getToken' ? [scriptKey] : [scriptKey, '*']) {
      const queue = state.scripts.get(key);
      if (queue) {
        const outcome = /** @type {Outcome} */ (queue.shift());
        if (queue.length === 0) state.scripts.delete(key);
        return outcome;
      }
    }
    const c = config;
    if (FAULTS.every((name) => c[name] === 0)) return OK;
    const u = rng();
    let edge = 0;
    /** @param {number} p */
    const hit = (p) => u < (edge += p);
    if (hit(c.qos)) return { kind: 'qos', label: 'qos' };
    if (hit(c.qos200)) return { kind: 'qos200', label: 'qos200' };
    if (hit(c.error5xx)) {
      const form = c.error5xxForm === 'mixed' ? (rng() < 0.5 ? 'error_code' : 'errorCode') : c.error5xxForm;
      return { kind: '5xx', status: 503, form, label: `503:${form}` };
    }
    if (hit(c.error200)) return { kind: 'error200', label: 'error200' };
    if (hit(c.badSignature)) return { kind: 'bad-signature', label: 'bad-signature' };
    if (hit(c.slow)) return { kind: 'slow', ms: c.slowMs, label: `slow:${c.slowMs}` };
    if (hit(c.notJson)) return { kind: 'not-json', label: 'not-json' };
    if (hit(c.missingFields)) return { kind: 'missing-fields', label: 'missing-fields' };
    if (hit(c.closeConnection)) return rng() < 0.5 ? { kind: 'close-before', label: 'close-before' } : { kind: 'close', label: 'close' };
    return OK;
  }

  function latency() {
    const { latencyMs, latencyJitterMs } = config;
    return latencyJitterMs ? Math.max(0, latencyMs + (rng() * 2 - 1) * latencyJitterMs) : latencyMs;
  }

  // --- API handlers ----------------------------------------------------------------------------

  /** A parameter the API refuses (HTTP 400 gw.ParamInvalid / gw.ParamMissing). */
  class ParamError extends Error {
    /** @param {string} message @param {string} [code] */
    constructor(message, code = 'gw.ParamInvalid') {
      super(message);
      this.code = code;
    }
  }

  /** @param {Map<string, string>} p @param {string} name @returns {number | undefined} */
  function dateParam(p, name) {
    const raw = p.get(name);
    if (raw === undefined || raw.trim() === '') return undefined;
    const parsed = parseAliDate(raw);
    if (!parsed) throw new ParamError(`${name} must be yyyyMMddHHmmssSSS+0800 (or ms), got "${raw}"`);
    state.dateForms[parsed.form]++;
    return parsed.ms;
  }
  /** @param {Map<string, string>} p @param {string} name @param {number} def @param {number} min @param {number} max */
  function intParam(p, name, def, min, max) {
    const raw = p.get(name);
    if (raw === undefined || raw.trim() === '') return def;
    if (!/^\s*\d{1,9}\s*$/.test(raw)) throw new ParamError(`${name} must be a positive integer, got "${raw}"`);
    const n = Number(raw);
    if (n < min || n > max) {
      if (name === 'pageSize') state.pageSizeClamped++;
      return Math.min(max, Math.max(min, n));
    }
    return n;
  }

  /** @typedef {(p: Map<string, string>, broken: boolean) => Answer} Handler */
  /** @type {Record<string, { needsToken: boolean, run: Handler }>} */
  const HANDLERS = {
    'cn.alibaba.open/push.query.messageList': {
      needsToken: false,
      run(p, broken) {
        const start = dateParam(p, 'createStartTime');
        const end = dateParam(p, 'createEndTime');
        const page = intParam(p, 'page', 1, 1, 1e9);
        const pageSize = intParam(p, 'pageSize', 20, 20, 200);
        const type = p.get('type') || undefined;
        const { texts, total } = messages.query({ start, end, type, page, pageSize, cutoff: now() - config.retentionMs });
        if (broken) return ok(`{"pushMessagePage":{"totalCount":${total}}}`);
        return ok(`{"pushMessagePage":{"datas":[${texts.join(',')}],"totalCount":${total}}}`);
      },
    },
    'cn.alibaba.open/push.message.confirm': {
      needsToken: false,
      run(p, broken) {
        const raw = p.get('msgIdList') ?? '';
        const ids = parseIdList(raw);
        if (ids === null) throw new ParamError(`msgIdList must be [id,id,...], got "${raw.slice(0, 80)}"`);
        state.confirmCalls++;
        messages.confirm(ids);
        return ok(broken ? '{}' : '{"isSuccess":true}');
      },
    },
    'com.alibaba.trade/alibaba.trade.getBuyerOrderList': {
      needsToken: true,
      run(p, broken) {
        const query = {
          modifyStart: dateParam(p, 'modifyStartTime'),
          modifyEnd: dateParam(p, 'modifyEndTime'),
          createStart: dateParam(p, 'createStartTime'),
          createEnd: dateParam(p, 'createEndTime'),
          status: p.get('orderStatus') || undefined,
          page: intParam(p, 'page', 1, 1, 1e9),
          pageSize: intParam(p, 'pageSize', 20, 1, 50),
          sort: config.orderListSort,
        };
        const { orders: page, total } = orders.query(query);
        const omit = broken ? new Set(['status', 'modifyTime']) : undefined;
        const result = page.map((o) => `{"baseInfo":${baseInfoJson(o, omit)}}`).join(',');
        return ok(broken ? `{"result":[${result}]}` : `{"result":[${result}],"totalRecord":${total}}`);
      },
    },
    'com.alibaba.trade/alibaba.trade.get.buyerView': {
      needsToken: true,
      run(p, broken) {
        const webSite = p.get('webSite');
        if (!webSite) throw new ParamError('webSite is required (1688)', 'gw.ParamMissing');
        if (webSite !== '1688' && webSite !== 'alibaba') throw new ParamError(`webSite must be 1688 or alibaba, got "${webSite}"`);
        const raw = (p.get('orderId') ?? '').trim();
        if (!raw) throw new ParamError('orderId is required', 'gw.ParamMissing');
        if (!/^\d{1,19}$/.test(raw)) throw new ParamError(`orderId must be a number, got "${raw}"`);
        const order = orders.get(raw.replace(/^0+(?=\d)/, ''));
        if (!order || webSite !== '1688') return { ...bizError('ORDER_NOT_EXIST', '订单不存在', 'false'), label: 'notFound' };
        const omit = broken ? new Set(['status', 'modifyTime']) : undefined;
        return ok(`{"result":{"baseInfo":${baseInfoJson(order, omit)}},"success":"true"}`);
      },
    },
  };

  // --- Calls -----------------------------------------------------------------------------------

  /**
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:http').ServerResponse} res
   * @param {{ namespace: string, api: string, appKey: string, query: string }} route
   */
  async function apiCall(req, res, route) {
    const s = state;
    const e = apiStats(route.api);
    s.calls++;
    e.calls++;
    const t = performance.now();
    s.received.hit(t);
    if (++s.inFlight > s.maxInFlight) s.maxInFlight = s.inFlight;
    res.once('close', () => s.inFlight--);
    /** @param {string} label @param {Answer} answer @param {boolean} [immediate] */
    const refuse = (label, answer, immediate = false) => {
      bump(e, label);
      later(immediate ? 0 : latency(), () => send(res, answer));
    };

    if (route.appKey !== config.appKey) {
      req.resume();
      return refuse('badAppKey', gwError(400, 'gw.AppKeyNotFound', `AppKey not found: ${route.appKey}`));
    }
    const handler = HANDLERS[`${route.namespace}/${route.api}`];
    if (!handler) {
      req.resume();
      return refuse('unknownApi', gwError(400, 'gw.APIUnsupported', `API not supported: ${route.namespace}:${route.api}-1`));
    }
    if (config.rateLimit > 0 && s.accepted.count(t) >= config.rateLimit) {
      req.resume();
      s.rejectedForRate++;
      return refuse('rateLimited', gwError(config.qosHttpStatus, 'gw.QosAppFrequencyLimit', QOS_MESSAGE), true);
    }
    s.accepted.hit(t);
    const body = await readBody(req, config.maxBodyBytes);
    if (body === null) return refuse('badParam', gwError(400, 'gw.ParamInvalid', 'request body too large'));
    const params = parseParams(route.query, body);
    const signature = params.get('_aop_signature');
    if (!signature) return refuse('missingSignature', gwError(400, 'gw.SignatureMissing', '_aop_signature is missing'));
    const urlPath = `param2/1/${route.namespace}/${route.api}/${route.appKey}`;
    if (!signatureMatches(signParams(config.appSecret, urlPath, params), signature)) {
      return refuse('badSignature', gwError(400, 'gw.SignatureInvalid', 'Signature Invalid.'));
    }
    const stamp = params.get('_aop_timestamp');
    if (stamp === undefined || stamp === '') {
      if (config.requireTimestamp) return refuse('badTimestamp', gwError(400, 'gw.ParamMissing', '_aop_timestamp is missing'));
    } else if (!/^\d{10,13}$/.test(stamp) || Math.abs(now() - Number(stamp)) > config.timestampSkewMs) {
      return refuse('badTimestamp', gwError(400, 'gw.ParamInvalid', `_aop_timestamp ${stamp} is not now (ms)`));
    }
    if (handler.needsToken) {
      const token = params.get('access_token');
      const expiresAt = token ? tokens.get(token) : undefined;
      if (!token) return refuse('badToken', needAuth('access_token is missing'));
      if (expiresAt === undefined) return refuse('badToken', needAuth('access_token is invalid'));
      if (expiresAt <= now()) return refuse('expiredToken', needAuth('access_token is expired'));
    }

    const outcome = nextOutcome(route.api);
    const delay = latency() + (outcome.kind === 'slow' ? outcome.ms : 0);
    const before = beforeRun(outcome, config.qosHttpStatus);
    if (before) {
      bump(e, `injected:${outcome.label}`);
      if (outcome.kind === 'close-before') return later(delay, () => req.socket.destroy());
      return later(delay, () => send(res, before));
    }
    /** @type {Answer} */
    let answer;
    try {
      answer = handler.run(params, outcome.kind === 'missing-fields');
    } catch (error) {
      if (!(error instanceof ParamError)) throw error;
      return refuse('badParam', gwError(400, error.code, error.message));
    }
    bump(e, outcome.kind === 'ok' ? (answer.label ?? 'ok') : `injected:${outcome.label}`);
    afterRun(res, req, outcome, answer, delay);
  }

  /**
   * @param {import('node:http').ServerResponse} res
   * @param {import('node:http').IncomingMessage} req
   * @param {Outcome} outcome
   * @param {Answer} answer
   * @param {number} delay
   */
  function afterRun(res, req, outcome, answer, delay) {
    later(delay, () => {
      if (outcome.kind === 'close') return req.socket.destroy();
      if (outcome.kind === 'not-json')
        return send(res, {
          status: 200,
          type: 'text/html;charset=UTF-8',
          body: '<html><head><title>502 Bad Gateway</title></head><body>Tengine</body></html>',
        });
      send(res, answer);
    });
  }

  /**
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:http').ServerResponse} res
   * @param {{ appKey: string, query: string }} route
   */
  async function tokenCall(req, res, route) {
    const e = apiStats('getToken');
    e.calls++;
    const body = await readBody(req, config.maxBodyBytes);
    const p = parseParams(route.query, body ?? '');
    /** @param {number} status @param {string} error @param {string} description */
    const refuse = (status, error, description) => {
      state.tokenRefreshFailures++;
      bump(e, 'tokenRefused');
      later(latency(), () => send(res, { status, body: JSON.stringify({ error, error_description: description }) }));
    };
    if (route.appKey !== config.appKey || p.get('client_id') !== config.appKey)
      return refuse(401, 'invalid_client', 'client_id or the appKey in the path is unknown');
    if (p.get('client_secret') !== config.appSecret) return refuse(401, 'invalid_client', 'client_secret is wrong');
    if (p.get('grant_type') !== 'refresh_token')
      return refuse(400, 'unsupported_grant_type', `grant_type must be refresh_token, got "${p.get('grant_type') ?? ''}"`);
    if (!p.get('refresh_token') || p.get('refresh_token') !== config.refreshToken)
      return refuse(400, 'invalid_grant', 'refresh_token is invalid or expired');
    const outcome = nextOutcome('getToken');
    const delay = latency() + (outcome.kind === 'slow' ? outcome.ms : 0);
    const before = beforeRun(outcome, config.qosHttpStatus);
    if (before) {
      state.tokenRefreshFailures++;
      bump(e, `injected:${outcome.label}`);
      if (outcome.kind === 'close-before') return later(delay, () => req.socket.destroy());
      return later(delay, () => send(res, before));
    }
    const token = issueToken();
    state.tokenRefreshes++;
    bump(e, outcome.kind === 'ok' ? 'ok' : `injected:${outcome.label}`);
    const expiresIn = config.expiresInAs === 'string' ? String(config.accessTokenTtlSec) : config.accessTokenTtlSec;
    const fields = { aliId: '8143927010', resource_owner: 'fakebuyer', memberId: 'b2b-1', access_token: token, expires_in: expiresIn };
    if (outcome.kind === 'missing-fields') delete (/** @type {Partial<typeof fields>} */ (fields).access_token);
    afterRun(res, req, outcome, ok(JSON.stringify(fields)), delay);
  }

  // --- Test API --------------------------------------------------------------------------------

  /** @param {readonly string[]} texts */
  function addMessages(texts) {
    if (!Array.isArray(texts)) throw new Error('messages must be an array of message JSON texts');
    let added = 0;
    for (const text of texts) if (messages.add(text)) added++;
    return { added, duplicates: texts.length - added };
  }

  /**
   * @param {string | bigint | number} id
   * @param {string} status
   * @param {{ modifyTime?: number, emitMessage?: boolean, type?: string, refundStatus?: string }} [options]
   */
  function setOrderStatus(id, status, options = {}) {
    const order = orders.setStatus(digitsOf('id', id), status, {
      modifyTime: options.modifyTime,
      refundStatus: options.refundStatus,
      now: now(),
    });
    /** @type {string | undefined} */
    let message;
    if (options.emitMessage) {
      const type = options.type ?? TOPIC_BY_STATUS[/** @type {keyof typeof TOPIC_BY_STATUS} */ (status)] ?? EXTRA_TOPICS[status];
      if (!type) throw new Error(`no topic known for status "${status}": give type`);
      const msgId = config.msgIdBase + ++msgCounter;
      message = buildMessage({
        msgId,
        type,
        gmtBorn: order.modifyTime,
        userInfo: DEFAULT_USER_INFO,
        orderId: order.id,
        status,
        msgSendTime: formatChinaTime(order.modifyTime),
      });
      messages.add(message);
    }
    return { order: { ...order }, message };
  }

  /** @returns {Fake1688Stats} */
  function stats() {
    const s = state;
    const cutoff = now() - config.retentionMs;
    let confirmedMoreThanOnce = 0;
    for (const n of messages.confirms.values()) if (n > 1) confirmedMoreThanOnce++;
    let tokensValid = 0;
    const t = now();
    for (const expiresAt of tokens.values()) if (expiresAt > t) tokensValid++;
    return {
      calls: s.calls,
      callsByApi: Object.fromEntries([...s.byApi].map(([api, v]) => [api, v.calls])),
      byApi: Object.fromEntries([...s.byApi].map(([api, v]) => [api, { calls: v.calls, outcomes: { ...v.outcomes } }])),
      outcomes: Object.fromEntries(s.outcomes),
      maxCallsPerSecond: s.received.max,
      maxAcceptedPerSecond: s.accepted.max,
      rejectedForRate: s.rejectedForRate,
      inFlight: s.inFlight,
      maxInFlight: s.maxInFlight,
      tokenRefreshes: s.tokenRefreshes,
      tokenRefreshFailures: s.tokenRefreshFailures,
      tokensValid,
      messages: {
        held: messages.byId.size,
        pending: messages.pendingCount(cutoff),
        confirmed: messages.confirmedCount,
        confirmCalls: s.confirmCalls,
        confirmedMoreThanOnce,
      },
      orders: orders.size,
      dateForms: { ...s.dateForms },
      pageSizeClamped: s.pageSizeClamped,
    };
  }

  /** @param {unknown} changes */
  function configure(changes) {
    const next = mergeConfig(config, changes ?? {}, { runtime: true });
    const seedChanged = next.seed !== config.seed;
    config = next;
    if (seedChanged) rng = mulberry32(config.seed);
    return { ...config };
  }

  /** @param {string} api @param {unknown} answers */
  function script(api, answers) {
    if (typeof api !== 'string' || api === '') throw new Error('api must be an API name (e.g. push.message.confirm), "getToken" or "*"');
    if (!Array.isArray(answers)) throw new Error('answers must be an array');
    const outcomes = answers.map((a) => parseAnswer(a, config));
    if (outcomes.length) state.scripts.set(api, outcomes);
    else state.scripts.delete(api);
    return { api, answers: outcomes.map((o) => o.label) };
  }

  function resetStats() {
    const scripts = state.scripts;
    state = newState();
    state.scripts = scripts;
  }

  function reset() {
    state = newState();
    rng = mulberry32(config.seed);
    Object.assign(messages, new MessageStore());
    Object.assign(orders, new OrderStore());
    resetTokens();
  }

  return {
    config: () => ({ ...config }),
    configure,
    script,
    stats,
    reset,
    resetStats,
    messages,
    orders,
    addMessages,
    setOrderStatus,
    now,
    issueToken,
    expireTokens() {
      const t = now();
      for (const token of tokens.keys()) tokens.set(token, t);
    },
    apiCall,
    tokenCall,
    send,
  };
}

/** @typedef {ReturnType<typeof createCore>} Core */
