import { BadRequestException } from '@nestjs/common';
import { DATE_TIME_MESSAGE, parseDateTime } from '../common/date-time.js';
import { checkString } from '../common/field-checks.js';
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

const plainText = (name: string, value: unknown, maxLength: number, problems: string[]): value is string =>
  checkString(problems, name, value, {
    notEmpty: true,
    maxLength,
    pattern: PLAIN_TEXT_PATTERN,
    patternMessage: `${name} ${PLAIN_TEXT_MESSAGE}`,
  });

const orderId = (name: string, value: unknown, problems: string[]): value is string =>
  checkString(problems, name, value, { pattern: ORDER_ID_PATTERN, patternMessage: `${name} ${ORDER_ID_MESSAGE}` });

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
