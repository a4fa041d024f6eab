/**
 * What an answer of the external order API means for the order (the contract's Dispatch
 * section): done, failed for good, or worth another try later.
 */
export type DispatchAnswer =
  | { kind: 'success'; supplierOrderId: string | null; note: string | null }
  | { kind: 'final'; reason: string }
  | { kind: 'retry'; reason: string; retryAfterMs: number | null; rateLimited: boolean };

const FINAL_STATUSES = new Set([400, 401, 403, 404, 422]);
const RETRY_STATUSES = new Set([408, 409, 425, 429]);
const MAX_REASON_BODY = 300;
/** DISPATCH_RETRY_AFTER_MAX_MS's default (the contract's). */
export const DEFAULT_MAX_RETRY_AFTER_MS = 60_000;

/**
 * `maxRetryAfterMs` bounds the server's Retry-After: a supplier asking for days (by mistake or
 * not) would otherwise pause dispatch for the whole fleet, or park an order in PROCESSING.
 */
export function classifyAnswer(
  status: number,
  body: string,
  retryAfter: string | null,
  maxRetryAfterMs = DEFAULT_MAX_RETRY_AFTER_MS,
  now = Date.now(),
): DispatchAnswer {
  if (status >= 200 && status < 300) return success(body);
  const reason = `external API answered ${status}${describeBody(body)}`;
  if (FINAL_STATUSES.has(status)) return { kind: 'final', reason };
  if (RETRY_STATUSES.has(status) || status >= 500) {
    const wanted = parseRetryAfter(retryAfter, now);
    return { kind: 'retry', reason, retryAfterMs: wanted === null ? null : Math.min(wanted, maxRetryAfterMs), rateLimited: status === 429 };
  }
  // Other answers (3xx, 410, 413, ...) will not change by asking again.
  return { kind: 'final', reason: `${reason} (not a status the contract retries)` };
}

/** A call that got no answer: timeout, refused or reset connection. The order may or may not exist there. */
export function classifyNoAnswer(error: unknown): DispatchAnswer {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const name = (error as Error).name;
  const what = name === 'TimeoutError' || name === 'AbortError' ? 'timed out' : (cause?.code ?? cause?.message ?? (error as Error).message);
  return { kind: 'retry', reason: `external API call failed: ${what}`, retryAfterMs: null, rateLimited: false };
}

function success(body: string): DispatchAnswer {
  if (body.trim() === '') return { kind: 'success', supplierOrderId: null, note: null };
  try {
    const parsed: unknown = JSON.parse(body);
    const id = (parsed as { supplierOrderId?: unknown } | null)?.supplierOrderId;
    if (typeof id === 'string' && id.length > 0 && id.length <= 128) return { kind: 'success', supplierOrderId: id, note: null };
    // A number would have lost digits in JSON.parse; take its digits from the text instead.
    if (typeof id === 'number') {
      const digits = /"supplierOrderId"\s*:\s*(\d{1,40})/.exec(body)?.[1];
      return { kind: 'success', supplierOrderId: digits ?? String(id), note: null };
    }
    return { kind: 'success', supplierOrderId: null, note: null };
  } catch {
    // The order exists there (2xx); sending it again would not help. Keep it, unlinked, and say so.
    return { kind: 'success', supplierOrderId: null, note: `2xx answer with an unparsable body${describeBody(body)}; not linked` };
  }
}

/** Retry-After in seconds or as an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (value === null || value.trim() === '') return null;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now);
}

function describeBody(body: string): string {
  const text = body.replace(/\s+/g, ' ').trim();
  if (text === '') return '';
  return `: ${text.length > MAX_REASON_BODY ? `${text.slice(0, MAX_REASON_BODY)}…` : text}`;
}
