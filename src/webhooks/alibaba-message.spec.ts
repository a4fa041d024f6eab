import { BadRequestException } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { chinaTimeToIso, parseAlibabaMessage } from './alibaba-message.js';

const received = new Date('2026-11-22T08:00:00.000Z');

function errorOf(text: string): { message: string; details?: string[] } {
  try {
    parseAlibabaMessage(text, received);
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestException);
    return (error as BadRequestException).getResponse() as { message: string; details?: string[] };
  }
  throw new Error('expected a 400');
}

describe('parseAlibabaMessage', () => {
  it('keeps an 18-digit order id digit for digit', () => {
    const job = parseAlibabaMessage(
      '{"msgId":123,"type":"ORDER_BUYER_VIEW_ORDER_PAY","gmtBorn":1586227869437,"data":{"orderId":167539019420540001,"currentStatus":"waitsellersend","msgSendTime":"2018-05-30 19:34:27"}}',
      received,
    );
    expect(job).toMatchObject({ source: '1688', messageId: '123', topic: 'ORDER_BUYER_VIEW_ORDER_PAY', ignoredReason: null });
    expect(job.changes).toEqual([
      {
        orderId: null,
        supplierOrderId: '167539019420540001',
        status: 'waitsellersend',
        occurredAt: '2018-05-30T11:34:27.000Z',
        bornAt: 1586227869437,
      },
    ]);
  });

  it('falls back to gmtBorn when msgSendTime is missing, and keeps unknown statuses', () => {
    const job = parseAlibabaMessage(
      '{"msgId":"7","type":"ORDER_X","gmtBorn":1000,"data":{"orderId":"42","currentStatus":"brand_new_state"}}',
      received,
    );
    expect(job.changes[0]).toMatchObject({ supplierOrderId: '42', status: 'brand_new_state', occurredAt: new Date(1000).toISOString() });
  });

  it('reads ORDER_BATCH_PAY into one change per order', () => {
    const job = parseAlibabaMessage(
      '{"msgId":9,"type":"ORDER_BATCH_PAY","gmtBorn":2000,"data":{"batchPay":[{"orderId":167539019420540002,"status":"success"},{"orderId":5,"status":"waitsellersend"}]}}',
      received,
    );
    expect(job.changes.map((c) => [c.supplierOrderId, c.status])).toEqual([
      ['167539019420540002', 'success'],
      ['5', 'waitsellersend'],
    ]);
  });

  it('records topics it does not act on, with the reason', () => {
    const job = parseAlibabaMessage('{"msgId":10,"type":"LOGISTICS_BUYER_VIEW_TRACE","data":{}}', received);
    expect(job.changes).toEqual([]);
    expect(job.ignoredReason).toMatch(/LOGISTICS_BUYER_VIEW_TRACE/);
  });

  it.each([
    ['not JSON', '{"msgId":', /not valid JSON/],
    ['an array', '[1,2]', /must be a JSON object/],
    ['a duplicate key', '{"msgId":1,"msgId":2,"type":"ORDER_X","data":{"orderId":1}}', /not valid JSON/],
  ])('rejects %s', (_name, text, message) => {
    expect(errorOf(text).message).toMatch(message);
  });

  it.each([
    ['no msgId', '{"type":"ORDER_X","data":{"orderId":1}}', /msgId must be an integer/],
    ['a fractional msgId', '{"msgId":1.5,"type":"ORDER_X","data":{"orderId":1}}', /msgId must be an integer/],
    ['no type', '{"msgId":1,"data":{"orderId":1}}', /type/],
    ['a numeric type', '{"msgId":1,"type":5}', /type must be a string/],
    ['data not an object', '{"msgId":1,"type":"ORDER_X","data":"x"}', /data must be an object/],
    ['an order topic without orderId', '{"msgId":1,"type":"ORDER_X","data":{}}', /orderId must be an integer/],
    ['an orderId with letters', '{"msgId":1,"type":"ORDER_X","data":{"orderId":"1 OR 1=1"}}', /orderId must be an integer/],
    ['a numeric status', '{"msgId":1,"type":"ORDER_X","data":{"orderId":1,"currentStatus":3}}', /currentStatus must be a string/],
    ['a bad msgSendTime', '{"msgId":1,"type":"ORDER_X","data":{"orderId":1,"msgSendTime":"yesterday"}}', /msgSendTime/],
    ['batchPay not an array', '{"msgId":1,"type":"ORDER_BATCH_PAY","data":{"batchPay":{}}}', /batchPay must be an array/],
    ['a batchPay item without status', '{"msgId":1,"type":"ORDER_BATCH_PAY","data":{"batchPay":[{"orderId":1}]}}', /status/],
  ])('rejects %s with details', (_name, text, detail) => {
    const body = errorOf(text);
    expect(body.details?.join('; ')).toMatch(detail);
  });
});

describe('chinaTimeToIso', () => {
  it('reads China time as UTC+8', () => {
    expect(chinaTimeToIso('2018-05-30 19:34:27')).toBe('2018-05-30T11:34:27.000Z');
    expect(chinaTimeToIso('2018-13-45 99:00:00')).toBeNull();
  });
});
