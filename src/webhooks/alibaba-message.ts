import { isLosslessNumber, parse as parseLossless } from 'lossless-json';
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
import { assertValid, PLAIN_TEXT_MESSAGE, PLAIN_TEXT_PATTERN } from '../common/validation.js';
import type { InboundMessage, SupplierStatusChange } from '../queues/order-events.queue.js';

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

export const BATCH_PAY_TOPIC = 'ORDER_BATCH_PAY';

/** Topics that name one order and its status in `data.orderId` / `data.currentStatus`. */
export function isOrderTopic(type: string): boolean {
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
export function chinaTimeToIso(text: string): string | null {
  const match = CHINA_TIME.exec(text);
  if (!match) return null;
  const date = new Date(`${match[1]}T${match[2]}+08:00`);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/**
 * Parses and validates the `message` field of a 1688 push into the job the orders module
 * applies. Throws a 400 that says what is wrong.
 */
export function parseAlibabaMessage(messageText: string, receivedAt: Date): InboundMessage {
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
    const sentAt = order.msgSendTime ? chinaTimeToIso(order.msgSendTime) : null;
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
