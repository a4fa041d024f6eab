import { Inject, Injectable } from '@nestjs/common';
import { strictPercentEncode } from '../common/percent-encoding.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/app-config.module.js';
import { inSpan, SpanKind, traceHeaders } from '../telemetry/tracing.js';
import { classifyAnswer, classifyNoAnswer, type DispatchAnswer } from './dispatch-answer.js';

/** Largest answer body read; a supplier that streams more is cut off (the status still counts). */
const MAX_BODY_BYTES = 64 * 1024;

/** Sends one order to the supplier's order API, as the contract says, and classifies the answer. */
@Injectable()
export class ExternalOrderApiClient {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /**
   * `payloadJson` goes as it is, so that its numbers keep every digit. `onResponse` runs when the
   * answer's headers arrive (not for a call that got no answer).
   */
  send(orderId: string, payloadJson: string, onResponse: () => void = () => {}): Promise<DispatchAnswer> {
    return inSpan(
      'external order API call',
      { 'ordersync.order_id': orderId, 'http.request.method': 'POST' },
      (span) =>
        this.call(orderId, payloadJson, (status) => {
          onResponse();
          span.setAttribute('http.response.status_code', status);
        }),
      SpanKind.CLIENT,
    );
  }

  private async call(orderId: string, payloadJson: string, answered: (status: number) => void): Promise<DispatchAnswer> {
    const signal = AbortSignal.timeout(this.config.externalApiTimeoutMs);
    try {
      const response = await fetch(this.config.externalApiUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey(orderId), ...traceHeaders() },
        body: `{"orderId":${JSON.stringify(orderId)},"payload":${payloadJson}}`,
        signal,
      });
      answered(response.status);
      const body = await readBody(response);
      return classifyAnswer(response.status, body, response.headers.get('retry-after'), this.config.dispatchRetryAfterMaxMs);
    } catch (error) {
      return classifyNoAnswer(error);
    }
  }
}

/**
 * The order id as the contract says: every byte outside `A-Z a-z 0-9 - _ . ~` percent-encoded,
 * `%` included, so that two ids never share a key ("A-1001" stays as it is).
 */
export function idempotencyKey(orderId: string): string {
  return strictPercentEncode(orderId);
}

async function readBody(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
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
