import { aopSignature } from '../../src/alibaba/aop-signature.js';
import { signGenericWebhook } from '../../src/webhooks/signatures.js';
import { API_KEY, APP_SECRET, WEBHOOK_SECRET } from './service.js';

export interface Answer<T = any> {
  status: number;
  body: T;
  contentType: string | null;
}

async function answer(response: Response): Promise<Answer> {
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text so the assertion shows it
  }
  return { status: response.status, body, contentType: response.headers.get('content-type') };
}

/** A 1688 message in 1688's own form: form-encoded `message` and `_aop_signature`. */
export function form1688(message: string, secret = APP_SECRET): string {
  const signature = aopSignature(secret, [['message', message]]);
  return new URLSearchParams({ message, _aop_signature: signature }).toString();
}

export async function push1688(
  baseUrl: string,
  message: string,
  options: { secret?: string; body?: string; contentType?: string; query?: string } = {},
): Promise<Answer> {
  const response = await fetch(`${baseUrl}/webhooks/1688${options.query ? `?${options.query}` : ''}`, {
    method: 'POST',
    headers: { 'content-type': options.contentType ?? 'application/x-www-form-urlencoded' },
    body: options.body ?? form1688(message, options.secret),
  });
  return answer(response);
}

export interface OrderMessage {
  msgId: string | number;
  orderId: string;
  status: string;
  sentAt?: string;
  gmtBorn?: number;
  type?: string;
}

/** Builds 1688 message text with the order id as a bare JSON number, digit for digit. */
export function orderMessage(m: OrderMessage): string {
  const data = `{"orderId":${m.orderId},"currentStatus":${JSON.stringify(m.status)}${m.sentAt ? `,"msgSendTime":"${m.sentAt}"` : ''},"buyerMemberId":"b2b-1","sellerMemberId":"b2b-2"}`;
  return `{"msgId":${m.msgId},"type":"${m.type ?? 'ORDER_BUYER_VIEW_ORDER_PAY'}","gmtBorn":${m.gmtBorn ?? Date.now()},"userInfo":"b2b-1676547900b7bb3","data":${data}}`;
}

export async function pushGeneric(
  baseUrl: string,
  body: string,
  options: { secret?: string; timestamp?: number; signature?: string } = {},
): Promise<Answer> {
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const signature = options.signature ?? `sha256=${signGenericWebhook(options.secret ?? WEBHOOK_SECRET, timestamp, body)}`;
  const response = await fetch(`${baseUrl}/webhooks/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-webhook-timestamp': timestamp, 'x-webhook-signature': signature },
    body,
  });
  return answer(response);
}

export async function api(baseUrl: string, method: string, path: string, body?: unknown, key: string | null = API_KEY): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (key !== null) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return answer(response);
}
