#!/usr/bin/env node
// @ts-check
// Fake 1688 Open API for end-to-end tests, chaos runs, the demo and benchmarks. Plain Node ESM,
// `node:` built-ins only, no build step, types in JSDoc. Contract: ../shared/CONTRACT.md, "1688
// Open API: pulling what was not delivered, and reconciling".
//
//   node tools/fake-1688-open-api.mjs --port 4100 --app-key 1234567 --app-secret s3cret --rate-limit 10
//   -> first stdout line: "fake-1688-open-api listening on <port>"; point ALIBABA_API_URL at
//      http://127.0.0.1:<port>/openapi
//
// Routes (form-encoded; query and body parameters are merged, the query's first):
//   POST /openapi/param2/1/{namespace}/{api}/{appKey}       signed API calls
//     cn.alibaba.open/push.query.messageList     no token   createStartTime, createEndTime (ms or
//        yyyyMMddHHmmssSSS+0800, the documented form), page (from 1), pageSize (clamped to 20..200,
//        default 20), type -> {"pushMessagePage":{"datas":[message...],"totalCount":N}}: the
//        unconfirmed messages born in the window, oldest first (gmtBorn, msgId); confirmed ones
//        drop out, so the pages after them shift; messages older than retentionMs (7 days) are gone.
//     cn.alibaba.open/push.message.confirm       no token   msgIdList=[id,id,...] -> {"isSuccess":true}
//     com.alibaba.trade/alibaba.trade.getBuyerOrderList   token   modifyStartTime, modifyEndTime,
//        createStartTime, createEndTime, orderStatus, page, pageSize (clamped to 1..50, default 20)
//        -> {"result":[{"baseInfo":{...}}],"totalRecord":N}, newest created first
//     com.alibaba.trade/alibaba.trade.get.buyerView       token   webSite=1688, orderId
//        -> {"result":{"baseInfo":{...}},"success":"true"}, or HTTP 200
//        {"success":"false","errorCode":"ORDER_NOT_EXIST","errorMessage":"订单不存在"}
//     Checks, in this order: app key (gw.AppKeyNotFound), API (gw.APIUnsupported), rate limit
//     (gw.QosAppFrequencyLimit), _aop_signature (gw.SignatureMissing, gw.SignatureInvalid),
//     _aop_timestamp (gw.ParamMissing, gw.ParamInvalid when more than timestampSkewMs off), token
//     (HTTP 401 {"error_code":"401","error_message":"Request need user authenticated"}). Gateway
//     errors: HTTP 4xx/5xx {"error_code","error_message","request_id"}.
//   POST /openapi/http/1/system.oauth2/getToken/{appKey}    (param2/1 works too) grant_type=
//     refresh_token, client_id, client_secret, refresh_token -> {"aliId","resource_owner",
//     "memberId","access_token","expires_in":"36000"}; OAuth errors {"error","error_description"}.
//   /_admin/...   control for tests and the simulator: see ADMIN below.
//
// Rate limit (`rateLimit` calls/s, 0 = none): an exact sliding one-second window over accepted
// API calls; over it the call is answered at once with gw.QosAppFrequencyLimit (HTTP
// qosHttpStatus, 400). maxCallsPerSecond is the most API calls received (refused ones included)
// in any sliding one-second window. The token route is neither limited nor counted there.
//
// Faults (probabilities, sum <= 1, one PRNG draw per call that passed the checks, mulberry32
// seeded by `seed`), or scripted per API with script(api, answers) / POST /_admin/script:
//   qos             gw.QosAppFrequencyLimit, HTTP qosHttpStatus    "qos"
//   qos200          the same as HTTP 200 {"success":false,"errorCode","errorMessage"}   "qos200"
//   error5xx        HTTP 503, error form per error5xxForm          "500" "502" "503" "503:errorCode"
//   error200        HTTP 200 {"success":false,"errorCode":"ISPInvokeError",...}   "error200"
//   badSignature    gw.SignatureInvalid even for a right signature "bad-signature"
//   slow            the answer after slowMs more                   "slow" "slow:<ms>"
//   notJson         HTTP 200 text/html instead of JSON             "not-json"
//   missingFields   JSON without the fields a client needs         "missing-fields"
//   closeConnection the socket cut without an answer               "close" "close-before"
//   (scripts only)  HTTP 401 as for an expired token               "token-expired"    "ok"
// qos, qos200, error5xx, error200, bad-signature, token-expired and close-before happen before the
// API runs (no confirm, no token issued); slow, not-json, missing-fields and close happen after it
// (a confirm counts, its answer is late, garbled or lost). Scripts are per API name
// (e.g. "push.message.confirm", "getToken" for the token route) or "*" for any API but the token
// route; one answer per call that passed the checks, then back to random.
// Latency: every answer but rate-limit refusals waits latencyMs +/- uniform latencyJitterMs.
//
// ADMIN (JSON; ids always as strings; messages as their JSON text, so no digit is lost):
//   GET  /_admin/stats            GET|POST /_admin/config (merge)     POST /_admin/script {api,answers}
//   POST /_admin/reset            POST /_admin/reset-stats            GET /_admin/health
//   POST /_admin/messages {messages:[text,...]} -> {added,duplicates}
//   GET  /_admin/messages[?pending=1] -> {messages:[{msgId,type,gmtBorn,confirmed,expired,confirms,text}]}
//   GET  /_admin/confirms -> {confirms:{msgId:n}}
//   POST /_admin/orders {orders:[{id,status,createTime,modifyTime,...}]} | {seed:{count,idBase,status,createEnd,stepMs}}
//   POST /_admin/orders/status {changes:[{id,status,modifyTime?,emitMessage?,type?,refundStatus?}]}
//        -> {changed:[{id,status,modifyTime,msgId?}]}
//   GET  /_admin/orders[?offset=&limit=]   GET /_admin/orders/<id>
//   POST /_admin/tokens/expire            POST /_admin/tokens/issue {ttlSec?} -> {access_token}
import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { ENV_PREFIX, defaults, flagOf, mergeConfig, parseCliArgs, pickOptions } from './lib/fake-1688-config.mjs';
import { createCore } from './lib/fake-1688-core.mjs';
import { createHandler, seedOrders, urlHost } from './lib/fake-1688-http.mjs';

export { parseCliArgs } from './lib/fake-1688-config.mjs';
export { formatAliDate, parseAliDate, signParams, signedText } from './lib/fake-1688-util.mjs';

/** @typedef {import('./lib/fake-1688-config.mjs').Fake1688Config} Fake1688Config */
/** @typedef {import('./lib/fake-1688-core.mjs').Fake1688Stats} Fake1688Stats */
/** @typedef {import('./lib/fake-1688-http.mjs').SeedOrdersOptions} SeedOrdersOptions */
/** @typedef {import('./lib/fake-1688-stores.mjs').OrderInput} OrderInput */
/** @typedef {import('./lib/fake-1688-stores.mjs').MessageView} MessageView */

const SELF = fileURLToPath(import.meta.url);
const LISTENING = 'fake-1688-open-api listening on';

const USAGE = `usage: node tools/fake-1688-open-api.mjs [flags]
  --port N (default 4100 from the CLI; 0 = random)    --host H (default 127.0.0.1)
  --app-key K (1234567)   --app-secret S (test123)    --refresh-token T   --access-token T ("" = none)
  --access-token-ttl-sec N (36000)   --expires-in-as string|number
  --rate-limit N          API calls/s, 0 = none       --qos-http-status N (400)
  --require-timestamp B   --timestamp-skew-ms N       --retention-ms N (7 days)
  --order-list-sort createTimeDesc|modifyTimeAsc      --latency-ms N   --latency-jitter-ms N
  --qos P --qos200 P --error5xx P --error200 P --bad-signature P --slow P --not-json P
  --missing-fields P --close-connection P             fault probabilities (0..1, sum <= 1)
  --error5xx-form error_code|errorCode|mixed          --slow-ms N (3000)
  --seed N   --msg-id-base N   --max-body-bytes N     --exit-on-stdin-end  stop when stdin ends
Every flag also reads ${ENV_PREFIX}<NAME> (e.g. ${ENV_PREFIX}RATE_LIMIT=10); flags win. Prints
"${LISTENING} <port>" first, then nothing until one summary line on exit.`;

// ---------------------------------------------------------------------------------------------
// In-process

/**
 * Options of startFake1688OpenApi: any of Fake1688Config.
 * @typedef {Partial<Fake1688Config>} Fake1688Options
 */

/**
 * Starts the fake in this process (default: a free port on 127.0.0.1, no rate limit, no faults).
 * `url` is what ALIBABA_API_URL takes (…/openapi).
 * @param {Fake1688Options} [options]
 */
export async function startFake1688OpenApi(options = {}) {
  const config = mergeConfig(defaults(), pickOptions(options), { runtime: false });
  const core = createCore(config);
  const server = createServer(createHandler(core));
  server.keepAliveTimeout = 5000;
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve(undefined);
    });
  });
  const port = /** @type {import('node:net').AddressInfo} */ (server.address()).port;
  const baseUrl = `http://${urlHost(config.host)}:${port}`;
  const cutoff = () => core.now() - core.config().retentionMs;
  /** @type {Promise<void> | undefined} */
  let closing;
  return {
    /** ALIBABA_API_URL: `${baseUrl}/openapi` */
    url: `${baseUrl}/openapi`,
    baseUrl,
    port,
    server,
    appKey: config.appKey,
    /** The app secret now in force. */
    appSecret: () => core.config().appSecret,
    stats: () => core.stats(),
    /** @returns {Record<string, number>} */
    callsByApi: () => core.stats().callsByApi,
    maxCallsPerSecond: () => core.stats().maxCallsPerSecond,
    tokenRefreshes: () => core.stats().tokenRefreshes,
    /** Unconfirmed messages within the retention. */
    pendingMessages: () => core.messages.pendingCount(cutoff()),
    /** @param {string | number | bigint} msgId @returns {number} confirm calls that named it */
    confirmCount: (msgId) => core.messages.confirms.get(String(msgId)) ?? 0,
    /** @returns {Record<string, number>} msgId -> confirm calls */
    confirmCounts: () => Object.fromEntries(core.messages.confirms),
    /** @param {Partial<Fake1688Config>} changes */
    configure: (changes) => core.configure(changes),
    config: () => core.config(),
    /** @param {string} api @param {string[]} answers */
    script: (api, answers) => core.script(api, answers),
    /** Forgets messages, orders, counters and scripts; tokens start over; config stays. */
    reset: () => core.reset(),
    /** Forgets counters only (scripts, messages, orders and tokens stay). */
    resetStats: () => core.resetStats(),
    /** @param {string} text a message's JSON text @returns {boolean} added (false: msgId already held) */
    addMessage: (text) => core.messages.add(text),
    /** @param {readonly string[]} texts */
    addMessages: (texts) => core.addMessages(texts),
    /** @param {{ pendingOnly?: boolean }} [o] */
    messages: (o = {}) => core.messages.list({ cutoff: cutoff(), pendingOnly: o.pendingOnly }),
    /** @param {OrderInput[]} inputs */
    addOrders: (inputs) => core.orders.upsert(inputs, core.now()),
    /** @param {SeedOrdersOptions} o */
    seedOrders: (o) => seedOrders(core, o),
    /**
     * Changes a status at 1688 (modifyTime: now and later than before, unless given); with
     * emitMessage the push message for it goes into the message store (and is returned).
     * @param {string | bigint | number} id
     * @param {string} status
     * @param {{ modifyTime?: number, emitMessage?: boolean, type?: string, refundStatus?: string }} [o]
     */
    setOrderStatus: (id, status, o) => core.setOrderStatus(id, status, o),
    /** @param {string | bigint | number} id */
    getOrder: (id) => {
      const order = core.orders.get(String(id));
      return order && { ...order };
    },
    orders: () => core.orders.list(),
    /** @param {number} [ttlSec] @returns {string} a new valid access token */
    issueAccessToken: (ttlSec) => core.issueToken(ttlSec),
    /** Every token issued so far expires now. */
    expireTokens: () => core.expireTokens(),
    /**
     * Stops accepting, lets delayed answers out (up to graceMs), then cuts the rest.
     * @param {{ graceMs?: number }} [o]
     * @returns {Promise<void>}
     */
    close({ graceMs = 2_000 } = {}) {
      closing ??= new Promise((resolve) => {
        const sweep = setInterval(() => server.closeIdleConnections(), 25);
        const cut = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearInterval(sweep);
          clearTimeout(cut);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

/** @typedef {Awaited<ReturnType<typeof startFake1688OpenApi>>} Fake1688OpenApi */

// ---------------------------------------------------------------------------------------------
// Child process

/**
 * Calls an admin route of a fake running anywhere (its base URL).
 * @param {string} baseUrl
 * @param {string} method
 * @param {string} path e.g. /_admin/stats
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
export function adminCall(baseUrl, method, path, body) {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers =
      text === undefined
        ? { connection: 'close' }
        : { connection: 'close', 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) };
    const req = httpRequest(`${baseUrl.replace(/\/+$/, '').replace(/\/openapi$/, '')}${path}`, { method, agent: false, headers }, (res) => {
      /** @type {Buffer[]} */
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let parsed;
        try {
          parsed = JSON.parse(raw);
        } catch {
          parsed = raw;
        }
        if ((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300) resolve(parsed);
        else reject(new Error(`fake-1688-open-api ${method} ${path}: ${res.statusCode} ${parsed?.error ?? raw}`));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(text);
  });
}

/**
 * Starts the fake as a child process (`node tools/fake-1688-open-api.mjs <flags>
 * --exit-on-stdin-end`), waits for its "listening" line, and returns its URLs, an admin() caller
 * and stop()/kill(). The child exits when the parent goes away; it does not keep the parent alive.
 * @param {Fake1688Options & { startTimeoutMs?: number }} [options]
 */
export async function spawnFake1688OpenApi(options = {}) {
  const { startTimeoutMs = 10_000 } = options;
  const picked = pickOptions(options);
  mergeConfig(defaults(), picked, { runtime: false }); // bad options fail here, not in the child
  /** @type {Record<string, string>} */
  const env = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith(ENV_PREFIX) && value !== undefined) env[name] = value;
  const args = [SELF, '--port', '0'];
  for (const [name, value] of Object.entries(picked)) args.push(`--${flagOf(name)}=${String(value)}`);
  args.push('--exit-on-stdin-end');
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
  let output = '';
  let errors = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c) => (errors = (errors + c).slice(-16_384)));
  child.stdin.on('error', () => {});
  /** @type {Promise<{ code: number | null, signal: NodeJS.Signals | null, output: string, errors: string }>} */
  const exited = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal, output, errors })));
  /** @type {number} */
  let port;
  try {
    port = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fake-1688-open-api did not start within ${startTimeoutMs} ms`)), startTimeoutMs);
      child.stdout.on('data', (chunk) => {
        output = (output + chunk).slice(-65_536);
        const m = new RegExp(`^${LISTENING} (\\d+)\\n`).exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`fake-1688-open-api exited (${code ?? signal}) before listening: ${errors.trim()}`));
      });
    });
  } catch (error) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    throw error;
  }
  for (const handle of [child, child.stdin, child.stdout, child.stderr]) /** @type {any} */ (handle).unref?.();
  const baseUrl = `http://${urlHost(options.host ?? '127.0.0.1')}:${port}`;
  /** @param {NodeJS.Signals} signal */
  const signalAndWait = async (signal) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const result = await exited;
    clearTimeout(timer);
    return result;
  };
  return {
    url: `${baseUrl}/openapi`,
    baseUrl,
    port,
    pid: child.pid,
    child,
    exited,
    /** @param {string} method @param {string} path @param {unknown} [body] */
    admin: (method, path, body) => adminCall(baseUrl, method, path, body),
    stop: () => signalAndWait('SIGTERM'),
    kill: () => signalAndWait('SIGKILL'),
  };
}

// ---------------------------------------------------------------------------------------------
// Standalone

async function main() {
  let cli;
  try {
    cli = parseCliArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`fake-1688-open-api: ${/** @type {Error} */ (error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (cli.help) return void process.stdout.write(`${USAGE}\n`);
  let api;
  try {
    api = await startFake1688OpenApi(cli.options);
  } catch (error) {
    process.stderr.write(
      `fake-1688-open-api: cannot listen on ${cli.options.host}:${cli.options.port}: ${/** @type {Error} */ (error).message}\n`,
    );
    process.exit(1);
  }
  process.stdout.write(`${LISTENING} ${api.port}\n`);
  let stopping = false;
  /** @param {string} why */
  const stop = async (why) => {
    if (stopping) return void api.server.closeAllConnections();
    stopping = true;
    await api.close();
    const s = api.stats();
    process.stdout.write(
      `fake-1688-open-api stopped (${why}): calls=${s.calls} maxCallsPerSecond=${s.maxCallsPerSecond} rejectedForRate=${s.rejectedForRate} ` +
        `tokenRefreshes=${s.tokenRefreshes} messagesPending=${s.messages.pending} confirmedMoreThanOnce=${s.messages.confirmedMoreThanOnce} ` +
        `orders=${s.orders} seed=${api.config().seed}\n`,
      () => process.exit(0),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (cli.exitOnStdinEnd) {
    process.stdin.on('end', () => stop('stdin closed'));
    process.stdin.on('error', () => stop('stdin closed'));
    process.stdin.resume();
  }
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
