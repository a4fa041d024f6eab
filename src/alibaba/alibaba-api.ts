/** The 1688 Open API calls ordersync makes (namespace, name, whether it needs the buyer's access token). */
export interface AlibabaApi {
  namespace: string;
  name: string;
  needsToken: boolean;
}

export const PUSH_MESSAGE_LIST: AlibabaApi = { namespace: 'cn.alibaba.open', name: 'push.query.messageList', needsToken: false };
export const PUSH_MESSAGE_CONFIRM: AlibabaApi = { namespace: 'cn.alibaba.open', name: 'push.message.confirm', needsToken: false };
export const BUYER_ORDER_LIST: AlibabaApi = { namespace: 'com.alibaba.trade', name: 'alibaba.trade.getBuyerOrderList', needsToken: true };
export const BUYER_ORDER_VIEW: AlibabaApi = { namespace: 'com.alibaba.trade', name: 'alibaba.trade.get.buyerView', needsToken: true };

/** `param2/1/{namespace}/{api}/{appKey}`: the path called and the start of what is signed. */
export function urlPathOf(api: AlibabaApi, appKey: string): string {
  return `param2/1/${api.namespace}/${api.name}/${appKey}`;
}

/**
 * Why a call failed, which decides what happens next: `rate-limited` (gw.Qos*) and
 * `unavailable` (5xx, timeouts, refused connections) are retried with backoff; `auth` (the token)
 * is refreshed once; `signature`, `refused`, `not-found` and `bad-answer` are reported.
 */
export type AlibabaErrorKind = 'rate-limited' | 'unavailable' | 'auth' | 'signature' | 'not-found' | 'refused' | 'bad-answer';

export class AlibabaApiError extends Error {
  constructor(
    readonly kind: AlibabaErrorKind,
    readonly api: string,
    message: string,
    readonly code: string | null = null,
    readonly status: number | null = null,
  ) {
    super(`1688 ${api}: ${message}`);
    this.name = 'AlibabaApiError';
  }
}

/** What 1688's error codes mean (from its SDKs and gateway docs; unknown codes are refusals). */
export function errorKindOf(code: string, httpStatus: number): AlibabaErrorKind {
  if (/^gw\.Qos/i.test(code)) return 'rate-limited';
  if (/^gw\.Signature/i.test(code)) return 'signature';
  if (code === '401' || /token|auth/i.test(code) || httpStatus === 401) return 'auth';
  if (/NOT_EXIST|NotFound/i.test(code)) return 'not-found';
  if (/ISPInvokeError|ServiceUnavailable|InternalError|SystemError|^5\d\d$/i.test(code) || httpStatus >= 500) return 'unavailable';
  return 'refused';
}

/** A field of an answer as text: strings and numbers as they are, anything else as JSON. */
export function fieldText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (typeof (value as { isLosslessNumber?: unknown }).isLosslessNumber === 'boolean') return (value as { value: string }).value;
  return JSON.stringify(value);
}
