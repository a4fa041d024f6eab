import { ORDER_ID_PATTERN } from '../common/validation.js';
import { parseLosslessJson } from '../common/lossless-json.js';
import type { OrderRow } from './repositories/orders.repository.js';

/** The order as clients read it (the contract's shape); payload numbers keep their digits (LosslessNumber). */
export interface OrderView {
  id: string;
  status: string;
  payload: unknown;
  supplierOrderId: string | null;
  supplierStatus: string | null;
  supplierStatusAt: string | null;
  attempts: number;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
}

export function toOrderView(row: OrderRow): OrderView {
  return {
    id: row.id,
    status: row.status,
    payload: row.payload_json === null ? null : parseLosslessJson(row.payload_json),
    supplierOrderId: row.supplier_order_id,
    supplierStatus: row.supplier_status,
    supplierStatusAt: row.supplier_status_at ? row.supplier_status_at.toISOString() : null,
    attempts: row.attempts,
    lastError: row.last_error,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

const CURSOR_TIME = /^(\d{4})-(\d{2})-(\d{2}) ([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?[+-]\d{2}(:\d{2})?$/;

/** A created_at as encodeCursor writes it, naming a day that exists. */
function isCursorTime(text: string): boolean {
  const match = CURSOR_TIME.exec(text);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return year >= 1970 && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** Longest cursor given out: a timestamp and a 128-character id of 4-byte characters, base64url. */
export const MAX_CURSOR_LENGTH = 1_024;

/** Opaque keyset cursor: the last row's (created_at, id). */
export function encodeCursor(row: Pick<OrderRow, 'cursor_ts' | 'id'>): string {
  return Buffer.from(JSON.stringify([row.cursor_ts, row.id])).toString('base64url');
}

export function decodeCursor(cursor: string): { createdAt: string; id: string } | null {
  if (cursor.length > MAX_CURSOR_LENGTH) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    // Only what encodeCursor gives out: Postgres's text form of a timestamptz and an order id.
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      typeof value[1] === 'string' &&
      isCursorTime(value[0]) &&
      ORDER_ID_PATTERN.test(value[1])
    ) {
      return { createdAt: value[0], id: value[1] };
    }
  } catch {
    // fall through: not a cursor we made
  }
  return null;
}
