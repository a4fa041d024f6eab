import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { classifyAnswer, classifyNoAnswer, type DispatchAnswer } from './dispatch-answer.js';

/** Largest answer body read; a supplier that streams more is cut off (the status still counts). */
const MAX_BODY_BYTES = 64 * 1024;

/** Sends one order to the supplier's order API, as the contract says, and classifies the answer. */
@Injectable()
export class ExternalOrderApiClient {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  async send(orderId: string, payload: unknown): Promise<DispatchAnswer> {
    const signal = AbortSignal.timeout(this.config.externalApiTimeoutMs);
    try {
      const response = await fetch(this.config.externalApiUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey(orderId) },
        body: JSON.stringify({ orderId, payload }),
        signal,
      });
      const body = await readBody(response);
      return classifyAnswer(response.status, body, response.headers.get('retry-after'));
    } catch (error) {
      return classifyNoAnswer(error);
    }
  }
}

/**
 * The order id, as the contract says. Header values are ASCII: an id with other characters is
 * sent percent-encoded, the same way on every call, so the key stays one per order.
 */
export function idempotencyKey(orderId: string): string {
  return /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(orderId) ? orderId : encodeURIComponent(orderId);
}

async function readBody(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size >= MAX_BODY_BYTES) {
      await reader.cancel();
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}
