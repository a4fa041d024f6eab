// @ts-check
// Answers of the fake 1688 Open API (tools/fake-1688-open-api.mjs): 1688's error bodies, the
// outcomes a script or a random fault gives a call, and sending.

/** @typedef {import('./fake-1688-config.mjs').Fake1688Config} Fake1688Config */

export const QOS_MESSAGE = 'App call exceeds limited frequency';
let requestCounter = 0;

/**
 * What happens to one call that passed the checks.
 * @typedef {{ kind: 'ok' | 'qos' | 'qos200' | 'error200' | 'bad-signature' | 'token-expired' | 'not-json' | 'missing-fields' | 'close' | 'close-before', label: string }
 *   | { kind: '5xx', status: number, form: 'error_code' | 'errorCode', label: string }
 *   | { kind: 'slow', ms: number, label: string }} Outcome
 */

const SIMPLE = new Set([
  'ok',
  'qos',
  'qos200',
  'error200',
  'bad-signature',
  'token-expired',
  'not-json',
  'missing-fields',
  'close',
  'close-before',
]);

/**
 * Turns "ok", "503", "503:errorCode", "slow:2000", ... into an outcome; throws on anything else.
 * @param {unknown} text
 * @param {Fake1688Config} config
 * @returns {Outcome}
 */
export function parseAnswer(text, config) {
  if (typeof text !== 'string') throw new Error('answers must be strings');
  const s = text.trim();
  const lower = s.toLowerCase();
  if (lower === '200' || lower === 'ok') return { kind: 'ok', label: 'ok' };
  if (SIMPLE.has(lower)) return /** @type {Outcome} */ ({ kind: lower, label: lower });
  let m = /^slow(?::(\d+))?$/.exec(lower);
  if (m) {
    const ms = m[1] === undefined ? config.slowMs : Number(m[1]);
    return { kind: 'slow', ms, label: `slow:${ms}` };
  }
  m = /^(5\d\d)(?::(error_code|errorCode))?$/.exec(s);
  if (m) {
    const form = /** @type {'error_code' | 'errorCode'} */ (m[2] ?? 'error_code');
    return { kind: '5xx', status: Number(m[1]), form, label: `${m[1]}:${form}` };
  }
  throw new Error(
    `unknown answer "${text}" (use ok, qos, qos200, 5xx[:errorCode], error200, bad-signature, token-expired, slow[:ms], not-json, missing-fields, close, close-before)`,
  );
}

export const OK = /** @type {Outcome} */ ({ kind: 'ok', label: 'ok' });

/**
 * @typedef {{ status: number, body: string, type?: string, label?: string }} Answer
 */
/** @param {number} status @param {string} code @param {string} message @returns {Answer} */
export const gwError = (status, code, message) => ({
  status,
  body: JSON.stringify({
    error_code: code,
    error_message: message,
    exception: message,
    request_id: `fake-${(++requestCounter).toString(16).padStart(12, '0')}`,
  }),
});
/** @param {string} code @param {string} message @param {boolean | string} [success] @returns {Answer} */
export const bizError = (code, message, success = false) => ({
  status: 200,
  body: JSON.stringify({ success, errorCode: code, errorMessage: message }),
});
/** @param {string} why @returns {Answer} */
export const needAuth = (why) => ({
  status: 401,
  body: JSON.stringify({
    error_code: '401',
    error_message: 'Request need user authenticated',
    exception: why,
    request_id: `fake-${(++requestCounter).toString(16).padStart(12, '0')}`,
  }),
});
/** @param {string} body @returns {Answer} */
export const ok = (body) => ({ status: 200, body });

/**
 * @param {import('node:http').ServerResponse} res
 * @param {Answer} answer
 */
export function send(res, answer) {
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(answer.status, {
    'content-type': answer.type ?? 'application/json;charset=UTF-8',
    'content-length': Buffer.byteLength(answer.body),
  });
  res.end(answer.body);
}
/** @param {number} ms @param {() => void} fn */
export const later = (ms, fn) => (ms > 0 ? void setTimeout(fn, ms) : fn());

/** @param {Outcome} outcome @param {number} qosHttpStatus @returns {Answer | null} the answer of a fault that stops the call before it runs */
export function beforeRun(outcome, qosHttpStatus) {
  switch (outcome.kind) {
    case 'qos':
      return gwError(qosHttpStatus, 'gw.QosAppFrequencyLimit', `${QOS_MESSAGE} (injected)`);
    case 'qos200':
      return bizError('gw.QosAppFrequencyLimit', `${QOS_MESSAGE} (injected)`);
    case '5xx':
      return outcome.form === 'error_code'
        ? gwError(outcome.status, 'gw.ISPInvokeError', 'Service unavailable (injected)')
        : {
            status: outcome.status,
            body: JSON.stringify({ success: false, errorCode: String(outcome.status), errorMessage: 'Service unavailable (injected)' }),
          };
    case 'error200':
      return bizError('ISPInvokeError', 'backend service error (injected)');
    case 'bad-signature':
      return gwError(400, 'gw.SignatureInvalid', 'Signature Invalid. (injected)');
    case 'token-expired':
      return needAuth('access_token is expired (injected)');
    case 'close-before':
      return { status: 0, body: '' };
    default:
      return null;
  }
}
