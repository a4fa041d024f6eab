import { createHmac, timingSafeEqual } from 'node:crypto';

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
