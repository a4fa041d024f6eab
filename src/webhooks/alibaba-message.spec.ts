import { BadRequestException } from '@nestjs/common';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { isLosslessNumber, parse as parseLossless } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { assertValid, PLAIN_TEXT_MESSAGE, PLAIN_TEXT_PATTERN } from '../common/validation.js';
import type { InboundMessage, SupplierStatusChange } from '../queues/order-events.queue.js';
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

// ---------------------------------------------------------------------------------------------
// The class-validator DTOs the hand checks replaced, kept here as the reference they must match.

const DIGITS = /^\d{1,30}$/;
const CHINA_TIME = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})$/;

class BatchPayItem {
  @IsString({ message: 'orderId must be an integer' })
  @Matches(DIGITS, { message: 'orderId must be an integer' })
  orderId: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(64)
  @Matches(PLAIN_TEXT_PATTERN, { message: `status ${PLAIN_TEXT_MESSAGE}` })
  status: string;
}

class BatchPayData {
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1_000)
  @ValidateNested({ each: true })
  @Type(() => BatchPayItem)
  batchPay: BatchPayItem[];
}

class OrderTopicData {
  @IsString({ message: 'orderId must be an integer' })
  @Matches(DIGITS, { message: 'orderId must be an integer' })
  orderId: string;

  @IsOptional()
  @IsString()
  @MaxLength(64)
  @Matches(PLAIN_TEXT_PATTERN, { message: `currentStatus ${PLAIN_TEXT_MESSAGE}` })
  currentStatus?: string;

  @IsOptional()
  @IsString()
  @Matches(CHINA_TIME, { message: 'msgSendTime must look like "2018-05-30 19:34:27"' })
  msgSendTime?: string;
}

class AlibabaMessage {
  @IsString({ message: 'msgId must be an integer' })
  @Matches(DIGITS, { message: 'msgId must be an integer' })
  msgId: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(128)
  @Matches(PLAIN_TEXT_PATTERN, { message: `type ${PLAIN_TEXT_MESSAGE}` })
  type: string;

  @IsOptional()
  @IsString({ message: 'gmtBorn must be an integer (epoch milliseconds)' })
  @Matches(/^\d{1,15}$/, { message: 'gmtBorn must be an integer (epoch milliseconds)' })
  gmtBorn?: string;

  @IsOptional()
  @IsString()
  @MaxLength(256)
  @Matches(PLAIN_TEXT_PATTERN, { message: `userInfo ${PLAIN_TEXT_MESSAGE}` })
  userInfo?: string;

  @IsOptional()
  @IsString()
  @MaxLength(256)
  @Matches(PLAIN_TEXT_PATTERN, { message: `bizKey ${PLAIN_TEXT_MESSAGE}` })
  bizKey?: string;

  @IsOptional()
  @IsObject()
  data?: Record<string, unknown>;
}

const BATCH_PAY_TOPIC = 'ORDER_BATCH_PAY';

/** Topics that name one order and its status in `data.orderId` / `data.currentStatus`. */
function isOrderTopic(type: string): boolean {
  return type.startsWith('ORDER_') && type !== BATCH_PAY_TOPIC;
}

/** 1688's ids are JSON numbers above 2^53: take their digits as written, never through a double. */
function idText(value: unknown): unknown {
  if (isLosslessNumber(value)) return value.value;
  return value;
}

function asRecord(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

function badMessage(message: string, details?: string[]): BadRequestException {
  return new BadRequestException({ statusCode: 400, error: 'Bad Request', message, ...(details ? { details } : {}) });
}

/** "2018-05-30 19:34:27" in China time (UTC+8) as an ISO instant. */
function referenceChinaTimeToIso(text: string): string | null {
  const match = CHINA_TIME.exec(text);
  if (!match) return null;
  const date = new Date(`${match[1]}T${match[2]}+08:00`);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/**
 * Parses and validates the `message` field of a 1688 push into the job the orders module
 * applies. Throws a 400 that says what is wrong.
 */
function referenceParse(messageText: string, receivedAt: Date): InboundMessage {
  let parsed: unknown;
  try {
    parsed = parseLossless(messageText);
  } catch (error) {
    throw badMessage(`message is not valid JSON: ${(error as Error).message}`);
  }
  const root = asRecord(parsed);
  if (!root) throw badMessage('message must be a JSON object');

  const message = Object.assign(new AlibabaMessage(), {
    msgId: idText(root.msgId),
    type: root.type,
    gmtBorn: idText(root.gmtBorn),
    userInfo: root.userInfo,
    bizKey: root.bizKey,
    data: root.data,
  });
  assertValid(message, '1688 message');

  const bornAt = message.gmtBorn ? Number(message.gmtBorn) : receivedAt.getTime();
  const bornIso = new Date(bornAt).toISOString();
  const data = message.data ?? {};
  const job: InboundMessage = {
    source: '1688',
    messageId: message.msgId,
    topic: message.type,
    receivedAt: receivedAt.toISOString(),
    body: messageText,
    changes: [],
    ignoredReason: null,
  };

  if (message.type === BATCH_PAY_TOPIC) {
    const items: unknown = Array.isArray(data.batchPay)
      ? data.batchPay.map((item: unknown) => ({ ...asRecord(item), orderId: idText(asRecord(item)?.orderId) }))
      : data.batchPay;
    const batch = Object.assign(new BatchPayData(), {
      batchPay: Array.isArray(items) ? items.map((item: object) => Object.assign(new BatchPayItem(), item)) : items,
    });
    assertValid(batch, `${BATCH_PAY_TOPIC} data`);
    job.changes = batch.batchPay.map<SupplierStatusChange>((item) => ({
      orderId: null,
      supplierOrderId: item.orderId,
      status: item.status,
      occurredAt: bornIso,
      bornAt,
    }));
    return job;
  }

  if (isOrderTopic(message.type)) {
    const order = Object.assign(new OrderTopicData(), {
      orderId: idText(data.orderId),
      currentStatus: data.currentStatus,
      msgSendTime: data.msgSendTime,
    });
    assertValid(order, `${message.type} data`);
    const sentAt = order.msgSendTime ? referenceChinaTimeToIso(order.msgSendTime) : null;
    if (order.msgSendTime && !sentAt) throw badMessage('data.msgSendTime is not a real date');
    job.changes = [
      {
        orderId: null,
        supplierOrderId: order.orderId,
        status: order.currentStatus ?? null,
        occurredAt: sentAt ?? bornIso,
        bornAt,
      },
    ];
    return job;
  }

  job.ignoredReason = `topic ${message.type} is not one the service acts on`;
  return job;
}

function outcome(parse: (text: string, at: Date) => InboundMessage, text: string): unknown {
  try {
    return parse(text, received);
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestException);
    return 'refused';
  }
}

const order = (data: string) => `{"msgId":1,"type":"ORDER_BUYER_VIEW_ORDER_PAY","gmtBorn":1586227869437,"data":${data}}`;
const batch = (items: string) => `{"msgId":2,"type":"ORDER_BATCH_PAY","gmtBorn":1586227869437,"data":{"batchPay":${items}}}`;
const root = (fields: string) => `{${fields}}`;
const many = (n: number) => `[${Array.from({ length: n }, (_, i) => `{"orderId":${i + 1},"status":"success"}`).join(',')}]`;

const SAME_AS_REFERENCE: [string, string][] = [
  ['an order message', order('{"orderId":167539019420540001,"currentStatus":"waitsellersend","msgSendTime":"2018-05-30 19:34:27"}')],
  ['an orderId as a string', order('{"orderId":"167539019420540001"}')],
  ['an orderId of 30 digits', order(`{"orderId":${'9'.repeat(30)}}`)],
  ['an orderId of 31 digits', order(`{"orderId":${'9'.repeat(31)}}`)],
  ['a negative orderId', order('{"orderId":-5}')],
  ['an orderId in exponent form', order('{"orderId":1e5}')],
  ['a null orderId', order('{"orderId":null}')],
  ['a null status', order('{"orderId":1,"currentStatus":null}')],
  ['an empty status', order('{"orderId":1,"currentStatus":""}')],
  ['a status of 64 characters', order(`{"orderId":1,"currentStatus":"${'s'.repeat(64)}"}`)],
  ['a status of 65 characters', order(`{"orderId":1,"currentStatus":"${'s'.repeat(65)}"}`)],
  ['a status of 64 emoji', order(`{"orderId":1,"currentStatus":"${'🚀'.repeat(64)}"}`)],
  ['a status with a NUL', order('{"orderId":1,"currentStatus":"a\\u0000b"}')],
  ['a status with a lone surrogate', order('{"orderId":1,"currentStatus":"a\\ud800b"}')],
  ['a CJK status', order('{"orderId":1,"currentStatus":"已发货"}')],
  ['a status of 64 characters with variation selectors', order(`{"orderId":1,"currentStatus":"${'a\uFE0F'.repeat(64)}"}`)],
  ['a status of 65 characters with variation selectors', order(`{"orderId":1,"currentStatus":"${'a\uFE0F'.repeat(65)}"}`)],
  ['a type of 128 characters with variation selectors', root(`"msgId":4,"type":"${'☺\uFE0E'.repeat(128)}"`)],
  ['an empty msgSendTime', order('{"orderId":1,"msgSendTime":""}')],
  ['a null msgSendTime', order('{"orderId":1,"msgSendTime":null}')],
  ['an ISO msgSendTime', order('{"orderId":1,"msgSendTime":"2018-05-30T19:34:27"}')],
  ['a msgSendTime that is no date', order('{"orderId":1,"msgSendTime":"2018-02-30 19:34:27"}')],
  ['a numeric msgSendTime', order('{"orderId":1,"msgSendTime":1527680067}')],
  ['extra data fields', order('{"orderId":1,"buyerMemberId":"b2b-1","sellerMemberId":"b2b-2","extra":{"deep":[1]}}')],
  ['data null', root('"msgId":3,"type":"ORDER_X","data":null')],
  ['data an array', root('"msgId":3,"type":"ORDER_X","data":[]')],
  ['data missing on an order topic', root('"msgId":3,"type":"ORDER_X"')],
  ['data missing on another topic', root('"msgId":3,"type":"LOGISTICS_X"')],
  ['a msgId as a string', root('"msgId":"42","type":"LOGISTICS_X"')],
  ['a msgId of 31 digits', root(`"msgId":${'1'.repeat(31)},"type":"LOGISTICS_X"`)],
  ['a null msgId', root('"msgId":null,"type":"LOGISTICS_X"')],
  ['a boolean msgId', root('"msgId":true,"type":"LOGISTICS_X"')],
  ['an empty type', root('"msgId":4,"type":""')],
  ['a type of 128 characters', root(`"msgId":4,"type":"${'T'.repeat(128)}"`)],
  ['a type of 129 characters', root(`"msgId":4,"type":"${'T'.repeat(129)}"`)],
  ['a type with a tab', root('"msgId":4,"type":"A\\tB"')],
  ['a null type', root('"msgId":4,"type":null')],
  ['a gmtBorn of 15 digits', root(`"msgId":5,"type":"LOGISTICS_X","gmtBorn":${'1'.repeat(15)}`)],
  ['a gmtBorn of 16 digits', root(`"msgId":5,"type":"LOGISTICS_X","gmtBorn":${'1'.repeat(16)}`)],
  ['a fractional gmtBorn', root('"msgId":5,"type":"LOGISTICS_X","gmtBorn":1.5')],
  ['a gmtBorn as a string', root('"msgId":5,"type":"LOGISTICS_X","gmtBorn":"1586227869437"')],
  ['a null gmtBorn', root('"msgId":5,"type":"LOGISTICS_X","gmtBorn":null')],
  ['a userInfo of 256 characters', root(`"msgId":6,"type":"LOGISTICS_X","userInfo":"${'u'.repeat(256)}"`)],
  ['a userInfo of 257 characters', root(`"msgId":6,"type":"LOGISTICS_X","userInfo":"${'u'.repeat(257)}"`)],
  ['a numeric userInfo', root('"msgId":6,"type":"LOGISTICS_X","userInfo":7')],
  ['a bizKey with a NUL', root('"msgId":6,"type":"LOGISTICS_X","bizKey":"a\\u0000"')],
  ['a bizKey of 257 characters', root(`"msgId":6,"type":"LOGISTICS_X","bizKey":"${'k'.repeat(257)}"`)],
  ['unknown top-level fields', root('"msgId":6,"type":"LOGISTICS_X","whatever":{"a":1}')],
  ['a batch of one', batch('[{"orderId":167539019420540002,"status":"success"}]')],
  ['a batch of 1,000', batch(many(1_000))],
  ['a batch of 1,001', batch(many(1_001))],
  ['an empty batch', batch('[]')],
  ['a batch that is an object', batch('{}')],
  ['a batch item that is a number', batch('[5]')],
  ['a batch item that is an array', batch('[[1]]')],
  ['a batch item without orderId', batch('[{"status":"success"}]')],
  ['a batch item with an empty status', batch('[{"orderId":1,"status":""}]')],
  ['a batch item with a status of 65 characters', batch(`[{"orderId":1,"status":"${'s'.repeat(65)}"}]`)],
  ['a batch item with extra fields', batch('[{"orderId":1,"status":"success","x":1}]')],
  ['no batchPay', root('"msgId":7,"type":"ORDER_BATCH_PAY","data":{}')],
];

describe('the hand checks decide as the class-validator DTOs did', () => {
  it.each(SAME_AS_REFERENCE)('%s', (_name, text) => {
    expect(outcome(parseAlibabaMessage, text)).toEqual(outcome(referenceParse, text));
  });
});
