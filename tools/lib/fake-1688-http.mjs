// @ts-check
// HTTP of the fake 1688 Open API (tools/fake-1688-open-api.mjs): routing, and the /_admin
// control routes for tests and the push simulator.

import { digitsOf, readBody } from './fake-1688-util.mjs';

/** @typedef {import('./fake-1688-core.mjs').Core} Core */

/**
 * @param {Core} core
 * @returns {(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void}
 */
export function createHandler(core) {
  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? '' : url.slice(q + 1);
    /** @param {unknown} error */
    const crash = (error) => {
      core.send(res, {
        status: 500,
        body: JSON.stringify({ error_code: 'fake.InternalError', error_message: String(/** @type {Error} */ (error)?.message ?? error) }),
      });
    };
    if (path.startsWith('/_admin/')) return void admin(core, req, res, path, query).catch(crash);
    let m = /^\/openapi\/(?:http|param2)\/1\/system\.oauth2\/getToken\/([^/]+)$/.exec(path);
    if (m && req.method === 'POST') return void core.tokenCall(req, res, { appKey: decodeURIComponent(m[1]), query }).catch(crash);
    m = /^\/openapi\/param2\/1\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(path);
    if (m && (req.method === 'POST' || req.method === 'GET'))
      return void core.apiCall(req, res, { namespace: m[1], api: m[2], appKey: m[3], query }).catch(crash);
    req.resume();
    core.send(res, {
      status: 404,
      body: JSON.stringify({ error_code: 'gw.APIUnsupported', error_message: `no such route: ${req.method} ${path}` }),
    });
  };
}

/**
 * Control routes (see ADMIN in the header).
 * @param {Core} core
 * @param {import('node:http').IncomingMessage} req
 * @param {import('node:http').ServerResponse} res
 * @param {string} path
 * @param {string} query
 */
async function admin(core, req, res, path, query) {
  const method = req.method ?? 'GET';
  /** @param {number} status @param {unknown} body */
  const reply = (status, body) => core.send(res, { status, body: JSON.stringify(body) });
  const text = await readBody(req, 64 << 20);
  if (text === null) return reply(413, { error: 'body too large' });
  /** @type {any} */
  let body = {};
  if (text.trim() !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      return reply(400, { error: 'body is not valid JSON' });
    }
  }
  const params = new URLSearchParams(query);
  const route = `${method} ${path}`;
  try {
    const cutoff = core.now() - core.config().retentionMs;
    if (route === 'GET /_admin/health') return reply(200, { ok: true });
    if (route === 'GET /_admin/stats') return reply(200, core.stats());
    if (route === 'GET /_admin/config') return reply(200, core.config());
    if (route === 'POST /_admin/config') return reply(200, core.configure(body));
    if (route === 'POST /_admin/script') return reply(200, core.script(body.api, body.answers));
    if (route === 'POST /_admin/reset') {
      core.reset();
      return reply(200, { ok: true });
    }
    if (route === 'POST /_admin/reset-stats') {
      core.resetStats();
      return reply(200, { ok: true });
    }
    if (route === 'POST /_admin/messages')
      return reply(200, core.addMessages(body.messages ?? (body.message !== undefined ? [body.message] : undefined)));
    if (route === 'GET /_admin/messages')
      return reply(200, { messages: core.messages.list({ cutoff, pendingOnly: params.get('pending') === '1' }) });
    if (route === 'GET /_admin/confirms') return reply(200, { confirms: Object.fromEntries(core.messages.confirms) });
    if (route === 'POST /_admin/orders') {
      if (body.seed) return reply(200, seedOrders(core, body.seed));
      return reply(200, core.orders.upsert(body.orders, core.now()));
    }
    if (route === 'POST /_admin/orders/status') {
      if (!Array.isArray(body.changes)) throw new Error('changes must be an array');
      const changed = body.changes.map((/** @type {any} */ c) => {
        const { order, message } = core.setOrderStatus(c.id, c.status, c);
        return { id: order.id, status: order.status, modifyTime: order.modifyTime, ...(message ? { message } : {}) };
      });
      return reply(200, { changed });
    }
    if (route === 'GET /_admin/orders') {
      const offset = Number(params.get('offset') ?? 0);
      const limit = Number(params.get('limit') ?? 1000);
      const all = core.orders.list();
      return reply(200, { total: all.length, orders: all.slice(offset, offset + limit) });
    }
    if (method === 'GET' && path.startsWith('/_admin/orders/')) {
      const order = core.orders.get(decodeURIComponent(path.slice('/_admin/orders/'.length)));
      return order ? reply(200, order) : reply(404, { error: 'no such order' });
    }
    if (route === 'POST /_admin/tokens/expire') {
      core.expireTokens();
      return reply(200, { ok: true });
    }
    if (route === 'POST /_admin/tokens/issue') return reply(200, { access_token: core.issueToken(body.ttlSec) });
    reply(404, { error: `no such admin route: ${route}` });
  } catch (error) {
    reply(400, { error: /** @type {Error} */ (error).message });
  }
}

/**
 * Options of seedOrders: `count` orders with ids idBase + 1 .. idBase + count.
 * @typedef {object} SeedOrdersOptions
 * @property {number} count
 * @property {string | bigint | number} [idBase] default 167539019420540000 (the fake supplier API's)
 * @property {string} [status] default waitbuyerpay
 * @property {number} [createEnd] ms of the last one, default now
 * @property {number} [stepMs] between two orders' createTime (and modifyTime), default 1000
 */

/**
 * @param {Core} core
 * @param {SeedOrdersOptions} o
 */
export function seedOrders(core, o) {
  if (!o || !Number.isInteger(o.count) || o.count < 0 || o.count > 10_000_000)
    throw new Error('seed.count must be an integer between 0 and 10000000');
  const stepMs = o.stepMs ?? 1000;
  if (!Number.isFinite(stepMs) || stepMs < 0) throw new Error('seed.stepMs must be >= 0');
  return core.orders.seed({
    count: o.count,
    idBase: o.idBase === undefined ? '167539019420540000' : digitsOf('idBase', o.idBase),
    status: o.status ?? 'waitbuyerpay',
    createEnd: o.createEnd ?? core.now(),
    stepMs,
  });
}

/** @param {string} host */
export function urlHost(host) {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
