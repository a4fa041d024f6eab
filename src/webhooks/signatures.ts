import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * 1688's push signature: every parameter but `_aop_signature` as `key + value`, those strings
 * sorted and joined, HMAC-SHA1 with the app secret, upper-case hex.
 */
export function sign1688(appSecret: string, params: ReadonlyArray<readonly [string, string]>): string {
  const pieces = params.filter(([key]) => key !== '_aop_signature').map(([key, value]) => key + value);
  pieces.sort();
  return createHmac('sha1', appSecret).update(pieces.join(''), 'utf8').digest('hex').toUpperCase();
}

/** HMAC-SHA256 over `timestamp + "." + rawBody`, lower-case hex, for `X-Webhook-Signature: sha256=<hex>`. */
export function signGenericWebhook(secret: string, timestamp: string, rawBody: Buffer | string): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex');
}

/** Compares two hex signatures case-insensitively in constant time. */
export function hexSignaturesMatch(expectedHex: string, givenHex: string): boolean {
  if (!/^[0-9a-fA-F]+$/.test(givenHex)) return false;
  const expected = Buffer.from(expectedHex.toLowerCase(), 'utf8');
  const given = Buffer.from(givenHex.toLowerCase(), 'utf8');
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** How far a generic webhook's timestamp may be from now, in seconds, before it counts as a replay. */
export const GENERIC_WEBHOOK_TOLERANCE_S = 300;
