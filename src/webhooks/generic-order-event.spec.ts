import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { describe, expect, it } from 'vitest';
import { GenericOrderEventDto } from './dto/generic-order-event.dto.js';
import { parseGenericOrderEvent } from './generic-order-event.js';

const valid = { eventId: 'evt-1', orderId: 'A-1001', status: 'shipped', occurredAt: '2026-11-22T08:00:00Z' };

/** What the global ValidationPipe said of a body before the hand check replaced it. */
function dtoAccepts(body: unknown): boolean {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const errors = validateSync(plainToInstance(GenericOrderEventDto, body), {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
  });
  return errors.length === 0;
}

function handAccepts(body: unknown): boolean {
  try {
    parseGenericOrderEvent(body);
    return true;
  } catch {
    return false;
  }
}

const long = (n: number, unit = 'x') => unit.repeat(n);
const cases: [string, unknown][] = [
  ['a valid event', valid],
  ['a supplier order id', { ...valid, supplierOrderId: '167539019420540001' }],
  ['a null supplier order id', { ...valid, supplierOrderId: null }],
  ['an empty supplier order id', { ...valid, supplierOrderId: '' }],
  ['a numeric supplier order id', { ...valid, supplierOrderId: 1675390194 }],
  ['no eventId', { ...valid, eventId: undefined }],
  ['an empty eventId', { ...valid, eventId: '' }],
  ['a numeric eventId', { ...valid, eventId: 7 }],
  ['an eventId of 200 characters', { ...valid, eventId: long(200) }],
  ['an eventId of 201 characters', { ...valid, eventId: long(201) }],
  ['an eventId of 200 emoji', { ...valid, eventId: long(200, '🚀') }],
  ['an eventId of 201 emoji', { ...valid, eventId: long(201, '🚀') }],
  ['an eventId of 200 CJK characters', { ...valid, eventId: long(200, '订') }],
  ['an eventId of 200 characters with variation selectors', { ...valid, eventId: long(200, 'a\uFE0F') }],
  ['an eventId of 201 characters with variation selectors', { ...valid, eventId: long(201, 'a\uFE0F') }],
  ['a status of 64 emoji with variation selectors', { ...valid, status: long(64, '❤\uFE0F') }],
  ['an eventId with a NUL', { ...valid, eventId: 'a\u0000b' }],
  ['an eventId with a lone surrogate', { ...valid, eventId: 'a\ud800b' }],
  ['a numeric orderId', { ...valid, orderId: 12 }],
  ['an empty orderId', { ...valid, orderId: '' }],
  ['an orderId of 128 characters', { ...valid, orderId: long(128) }],
  ['an orderId of 129 characters', { ...valid, orderId: long(129) }],
  ['an orderId of 128 emoji', { ...valid, orderId: long(128, '🚀') }],
  ['an orderId with a tab', { ...valid, orderId: 'a\tb' }],
  ['an SQL-looking orderId', { ...valid, orderId: "'); DROP TABLE orders;--" }],
  ['an empty status', { ...valid, status: '' }],
  ['a status of 64 characters', { ...valid, status: long(64) }],
  ['a status of 65 characters', { ...valid, status: long(65) }],
  ['a boolean status', { ...valid, status: true }],
  ['an occurredAt with an offset', { ...valid, occurredAt: '2026-11-22T16:00:00.123+08:00' }],
  ['a date alone', { ...valid, occurredAt: '2026-11-22' }],
  ['a week date', { ...valid, occurredAt: '2020-W01' }],
  ['an hour alone', { ...valid, occurredAt: '2020-01-01T10' }],
  ['a day that does not exist', { ...valid, occurredAt: '2026-02-30T00:00:00Z' }],
  ['year 0000', { ...valid, occurredAt: '0000-01-01T00:00:00Z' }],
  ['a numeric occurredAt', { ...valid, occurredAt: 1_700_000_000_000 }],
  ['an unknown field', { ...valid, extra: true }],
  ['an array', [valid]],
  ['null', null],
  ['a string', 'evt'],
  ['an empty object', {}],
];

describe('parseGenericOrderEvent', () => {
  it.each(cases)('decides %s as the class-validator DTO does', (_name, body) => {
    expect(handAccepts(body)).toBe(dtoAccepts(body));
  });

  it('refuses a __proto__ field, which the DTO let through (class-transformer dropped it)', () => {
    const body: unknown = JSON.parse('{"eventId":"e","orderId":"o","status":"s","occurredAt":"2026-11-22T08:00:00Z","__proto__":{"x":1}}');
    expect(dtoAccepts(body)).toBe(true);
    expect(() => parseGenericOrderEvent(body)).toThrow(/Bad Request/);
  });

  it('returns the fields, the supplier order id as null when absent, and the time in ms', () => {
    expect(parseGenericOrderEvent({ ...valid, occurredAt: '2026-11-22T16:00:00.123+08:00' })).toEqual({
      ...valid,
      occurredAt: '2026-11-22T16:00:00.123+08:00',
      supplierOrderId: null,
      occurredAtMs: Date.UTC(2026, 10, 22, 8, 0, 0, 123),
    });
  });

  it('lists every problem in one 400', () => {
    try {
      parseGenericOrderEvent({ eventId: '', orderId: 5, status: 'x', occurredAt: 'yesterday', extra: 1 });
      expect.unreachable();
    } catch (error) {
      const answer = (error as { getResponse(): { statusCode: number; message: string[] } }).getResponse();
      expect(answer.statusCode).toBe(400);
      expect(answer.message).toEqual([
        'property extra should not exist',
        'eventId should not be empty',
        'orderId must be a string',
        expect.stringMatching(/^occurredAt must be an ISO-8601 date-time/),
      ]);
    }
  });
});
