import type { SchemaObject } from '@nestjs/swagger';

/** The answers' shapes, for /docs: written once here, next to nothing else, and checked by a test. */
const nullable = (type: 'string' | 'integer', extra: SchemaObject = {}): SchemaObject => ({ type, nullable: true, ...extra });

export const ORDER_SCHEMA: SchemaObject = {
  type: 'object',
  required: [
    'id',
    'status',
    'payload',
    'supplierOrderId',
    'supplierStatus',
    'supplierStatusAt',
    'attempts',
    'lastError',
    'createdAt',
    'updatedAt',
  ],
  properties: {
    id: { type: 'string', maxLength: 128 },
    status: { type: 'string', enum: ['PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'EXTERNAL'] },
    payload: { type: 'object', nullable: true, additionalProperties: true, description: 'as created; numbers digit for digit' },
    supplierOrderId: nullable('string', { example: '167539019420540000' }),
    supplierStatus: nullable('string', { example: 'waitsellersend' }),
    supplierStatusAt: nullable('string', { format: 'date-time' }),
    attempts: { type: 'integer' },
    lastError: nullable('string'),
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
  },
};

export const ORDER_PAGE_SCHEMA: SchemaObject = {
  type: 'object',
  properties: {
    items: { type: 'array', items: ORDER_SCHEMA },
    nextCursor: nullable('string', { description: 'pass as ?cursor= for the next page; null on the last' }),
  },
};

export const BATCH_RESULT_SCHEMA: SchemaObject = {
  type: 'object',
  properties: {
    created: { type: 'integer' },
    existing: { type: 'integer' },
    conflicts: { type: 'integer' },
    results: {
      type: 'array',
      items: {
        type: 'object',
        properties: { id: { type: 'string' }, outcome: { type: 'string', enum: ['created', 'existing', 'conflict'] }, order: ORDER_SCHEMA },
      },
    },
  },
};

export const HISTORY_SCHEMA: SchemaObject = {
  type: 'object',
  properties: {
    orderId: { type: 'string' },
    items: {
      type: 'array',
      description: 'oldest first',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          kind: { type: 'string', enum: ['supplier_message', 'status_change', 'dispatch_attempt', 'merged'] },
          source: nullable('string', { example: '1688' }),
          messageId: nullable('string'),
          topic: nullable('string'),
          supplierStatus: nullable('string'),
          occurredAt: nullable('string', { format: 'date-time' }),
          fromStatus: nullable('string'),
          toStatus: nullable('string'),
          attempt: nullable('integer'),
          outcome: { type: 'string', enum: ['applied', 'ignored'] },
          reason: nullable('string', { description: 'why, when ignored' }),
          recordedAt: { type: 'string', format: 'date-time' },
        },
      },
    },
  },
};

export const QUEUES_SCHEMA: SchemaObject = {
  type: 'object',
  properties: {
    queues: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          waiting: { type: 'integer' },
          active: { type: 'integer' },
          delayed: { type: 'integer' },
          failed: { type: 'integer' },
          deadLettered: { type: 'integer' },
          oldestWaitingAgeMs: nullable('integer'),
        },
      },
    },
    asOf: { type: 'string', format: 'date-time' },
    snapshotAgeMs: { type: 'integer', description: 'how old the counts are (a snapshot refreshed in the background)' },
  },
};

export const DEAD_LETTER_PAGE_SCHEMA: SchemaObject = {
  type: 'object',
  properties: {
    queue: { type: 'string' },
    total: { type: 'integer' },
    items: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          jobId: { type: 'string' },
          name: { type: 'string' },
          failedReason: { type: 'string' },
          attemptsMade: { type: 'integer' },
          failedAt: { type: 'string', format: 'date-time' },
          data: { type: 'object', additionalProperties: true },
        },
      },
    },
  },
};

export const HEALTH_SCHEMA: SchemaObject = {
  type: 'object',
  description: 'Terminus: status ok|error, and the details of each check',
  properties: {
    status: { type: 'string', enum: ['ok', 'error', 'shutting_down'] },
    info: { type: 'object' },
    error: { type: 'object' },
    details: { type: 'object' },
  },
};

export const ERROR_SCHEMA: SchemaObject = {
  type: 'object',
  properties: {
    statusCode: { type: 'integer' },
    error: { type: 'string' },
    message: { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
  },
};
