import { isLosslessNumber, parse as parseLossless } from 'lossless-json';
import { BadRequestException } from '@nestjs/common';
import { checkOptionalString, checkString, isPlainObject, type StringRule } from '../common/field-checks.js';
import { PLAIN_TEXT_MESSAGE, PLAIN_TEXT_PATTERN } from '../common/validation.js';
import type { InboundMessage, SupplierStatusChange } from '../queues/order-events.queue.js';

const DIGITS = /^\d{1,30}$/;
const CHINA_TIME = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})$/;
const MAX_BATCH_PAY = 1_000;

// The rules of a 1688 message, checked by hand (class-validator cost 10 µs of a push's 67):
// alibaba-message.spec.ts decides a battery of messages with these and with the class-validator
// DTOs they replaced, side by side.
const integer = (name: string): StringRule => ({
  pattern: DIGITS,
  typeMessage: `${name} must be an integer`,
  patternMessage: `${name} must be an integer`,
});
const plain = (name: string, maxLength: number, notEmpty = false): StringRule => ({
  notEmpty,
  maxLength,
  pattern: PLAIN_TEXT_PATTERN,
  patternMessage: `${name} ${PLAIN_TEXT_MESSAGE}`,
});
const GMT_BORN: StringRule = {
  pattern: /^\d{1,15}$/,
  typeMessage: 'gmtBorn must be an integer (epoch milliseconds)',
  patternMessage: 'gmtBorn must be an integer (epoch milliseconds)',
};
const MSG_SEND_TIME: StringRule = { pattern: CHINA_TIME, patternMessage: 'msgSendTime must look like "2018-05-30 19:34:27"' };

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

  const problems: string[] = [];
  const msgId = idText(root.msgId);
  const gmtBorn = idText(root.gmtBorn);
  const { type, data: rawData } = root;
  const msgIdOk = checkString(problems, 'msgId', msgId, integer('msgId'));
  const typeOk = checkString(problems, 'type', type, plain('type', 128, true));
  const gmtBornOk = checkOptionalString(problems, 'gmtBorn', gmtBorn, GMT_BORN);
  checkOptionalString(problems, 'userInfo', root.userInfo, plain('userInfo', 256));
  checkOptionalString(problems, 'bizKey', root.bizKey, plain('bizKey', 256));
  if (rawData !== undefined && rawData !== null && !isPlainObject(rawData)) problems.push('data must be an object');
  if (problems.length > 0 || !msgIdOk || !typeOk || !gmtBornOk) throw badMessage('invalid 1688 message', problems);
  const message = { msgId, type, gmtBorn: gmtBorn ?? undefined, data: isPlainObject(rawData) ? rawData : undefined };

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
    const items = checkBatchPay(data.batchPay);
    job.changes = items.map<SupplierStatusChange>((item) => ({
      orderId: null,
      supplierOrderId: item.orderId,
      status: item.status,
      occurredAt: bornIso,
      bornAt,
    }));
    return job;
  }

  if (isOrderTopic(message.type)) {
    const order = { orderId: idText(data.orderId), currentStatus: data.currentStatus, msgSendTime: data.msgSendTime };
    const orderProblems: string[] = [];
    const orderIdOk = checkString(orderProblems, 'orderId', order.orderId, integer('orderId'));
    const statusOk = checkOptionalString(orderProblems, 'currentStatus', order.currentStatus, plain('currentStatus', 64));
    const sendTimeOk = checkOptionalString(orderProblems, 'msgSendTime', order.msgSendTime, MSG_SEND_TIME);
    if (orderProblems.length > 0 || !orderIdOk || !statusOk || !sendTimeOk) throw badMessage(`invalid ${message.type} data`, orderProblems);
    const sentAt = typeof order.msgSendTime === 'string' && order.msgSendTime ? chinaTimeToIso(order.msgSendTime) : null;
    if (order.msgSendTime && !sentAt) throw badMessage('data.msgSendTime is not a real date');
    job.changes = [
      {
        orderId: null,
        supplierOrderId: order.orderId as string,
        status: (order.currentStatus as string | null | undefined) ?? null,
        occurredAt: sentAt ?? bornIso,
        bornAt,
      },
    ];
    return job;
  }

  job.ignoredReason = `topic ${message.type} is not one the service acts on`;
  return job;
}

/** `data.batchPay` of ORDER_BATCH_PAY: 1 to 1,000 items of an integer orderId and a status. */
function checkBatchPay(value: unknown): { orderId: string; status: string }[] {
  const problems: string[] = [];
  if (!Array.isArray(value)) {
    problems.push('batchPay must be an array');
  } else {
    if (value.length < 1) problems.push('batchPay must contain at least 1 elements');
    if (value.length > MAX_BATCH_PAY) problems.push(`batchPay must contain no more than ${MAX_BATCH_PAY} elements`);
  }
  const items: { orderId: string; status: string }[] = [];
  if (Array.isArray(value) && problems.length === 0) {
    value.forEach((raw: unknown, i) => {
      const item = isPlainObject(raw) ? raw : {};
      const orderId = idText(item.orderId);
      const status = item.status;
      const orderIdOk = checkString(problems, `batchPay.${i}.orderId`, orderId, integer(`batchPay.${i}.orderId`));
      const statusOk = checkString(problems, `batchPay.${i}.status`, status, plain(`batchPay.${i}.status`, 64, true));
      if (orderIdOk && statusOk) items.push({ orderId, status });
    });
  }
  if (problems.length > 0) throw badMessage(`invalid ${BATCH_PAY_TOPIC} data`, problems);
  return items;
}
