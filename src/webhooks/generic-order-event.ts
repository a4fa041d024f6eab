import { BadRequestException } from '@nestjs/common';
import { DATE_TIME_MESSAGE, parseDateTime } from '../common/date-time.js';
import { ORDER_ID_MESSAGE, ORDER_ID_PATTERN, PLAIN_TEXT_MESSAGE, PLAIN_TEXT_PATTERN } from '../common/validation.js';

/** A `POST /webhooks/orders` body that passed {@link parseGenericOrderEvent}. */
export interface GenericOrderEvent {
  eventId: string;
  orderId: string;
  supplierOrderId: string | null;
  status: string;
  occurredAt: string;
  /** `occurredAt` read as epoch milliseconds (UTC when it has no offset). */
  occurredAtMs: number;
}

const FIELDS = new Set(['eventId', 'orderId', 'supplierOrderId', 'status', 'occurredAt']);

/** Characters as class-validator's MaxLength counts them: a surrogate pair is one. */
function characters(text: string): number {
  let pairs = 0;
  for (let i = 0; i < text.length - 1; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        pairs++;
        i++;
      }
    }
  }
  return text.length - pairs;
}

function plainText(name: string, value: unknown, maxLength: number, problems: string[]): value is string {
  if (typeof value !== 'string') {
    problems.push(`${name} must be a string`);
    return false;
  }
  const before = problems.length;
  if (value.length === 0) problems.push(`${name} should not be empty`);
  if (characters(value) > maxLength) problems.push(`${name} must be shorter than or equal to ${maxLength} characters`);
  if (!PLAIN_TEXT_PATTERN.test(value)) problems.push(`${name} ${PLAIN_TEXT_MESSAGE}`);
  return problems.length === before;
}

function orderId(name: string, value: unknown, problems: string[]): value is string {
  if (typeof value !== 'string') {
    problems.push(`${name} must be a string`);
    return false;
  }
  if (!ORDER_ID_PATTERN.test(value)) {
    problems.push(`${name} ${ORDER_ID_MESSAGE}`);
    return false;
  }
  return true;
}

/**
 * The generic webhook's body, checked by hand on the hot path (class-validator costs more than
 * the rest of the request): the same rules as `GenericOrderEventDto`, which stays for the API
 * docs, and the same answer, a 400 listing every problem. Unknown fields are refused.
 */
export function parseGenericOrderEvent(body: unknown): GenericOrderEvent {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid(['the body must be a JSON object']);
  }
  const record = body as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(record)) if (!FIELDS.has(key)) problems.push(`property ${key} should not exist`);
  const { eventId, status, occurredAt, supplierOrderId } = record;
  const eventIdOk = plainText('eventId', eventId, 200, problems);
  const orderIdOk = orderId('orderId', record.orderId, problems);
  const supplierOk = supplierOrderId === undefined || supplierOrderId === null || orderId('supplierOrderId', supplierOrderId, problems);
  const statusOk = plainText('status', status, 64, problems);
  const occurredAtMs = typeof occurredAt === 'string' ? parseDateTime(occurredAt) : null;
  if (occurredAtMs === null) problems.push(`occurredAt ${DATE_TIME_MESSAGE}`);
  if (problems.length > 0 || !eventIdOk || !orderIdOk || !supplierOk || !statusOk || occurredAtMs === null) throw invalid(problems);
  return {
    eventId,
    orderId: record.orderId as string,
    supplierOrderId: typeof supplierOrderId === 'string' ? supplierOrderId : null,
    status,
    occurredAt: occurredAt as string,
    occurredAtMs,
  };
}

function invalid(message: string[]): BadRequestException {
  return new BadRequestException({ statusCode: 400, error: 'Bad Request', message });
}
