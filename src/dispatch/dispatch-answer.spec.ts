import { describe, expect, it } from 'vitest';
import { classifyAnswer, classifyNoAnswer, parseRetryAfter } from './dispatch-answer.js';

describe('classifyAnswer', () => {
  it('takes a 2xx as done and the supplier order id digit for digit, string or number', () => {
    expect(classifyAnswer(201, '{"supplierOrderId":"167539019420540000"}', null)).toEqual({
      kind: 'success',
      supplierOrderId: '167539019420540000',
      note: null,
    });
    expect(classifyAnswer(200, '{"supplierOrderId":167539019420540001}', null)).toMatchObject({ supplierOrderId: '167539019420540001' });
    expect(classifyAnswer(204, '', null)).toEqual({ kind: 'success', supplierOrderId: null, note: null });
  });

  it('keeps a 2xx with an unparsable body as done, unlinked, and says why', () => {
    const answer = classifyAnswer(200, '<html>ok', null);
    expect(answer).toMatchObject({ kind: 'success', supplierOrderId: null });
    expect(answer.kind === 'success' && answer.note).toMatch(/unparsable.*<html>ok/);
  });

  it.each([400, 401, 403, 404, 422])('fails %i at once, with the body in the reason', (status) => {
    expect(classifyAnswer(status, '{"error":"bad sku"}', null)).toEqual({
      kind: 'final',
      reason: `external API answered ${status}: {"error":"bad sku"}`,
    });
  });

  it.each([408, 409, 425, 500, 502, 503, 504])('retries %i', (status) => {
    expect(classifyAnswer(status, 'garbage', null)).toMatchObject({ kind: 'retry', rateLimited: false, retryAfterMs: null });
  });

  it('marks a 429 as rate-limited and reads Retry-After', () => {
    expect(classifyAnswer(429, '', '3')).toMatchObject({ kind: 'retry', rateLimited: true, retryAfterMs: 3_000 });
  });

  it('holds Retry-After to DISPATCH_RETRY_AFTER_MAX_MS, in seconds or as a date, for a 429 and a 5xx alike', () => {
    const now = Date.parse('2026-12-01T00:00:00Z');
    expect(classifyAnswer(429, '', '864000', 60_000, now)).toMatchObject({ retryAfterMs: 60_000, rateLimited: true });
    expect(classifyAnswer(503, '', '99999999999999999999', 60_000, now)).toMatchObject({ retryAfterMs: 60_000, rateLimited: false });
    expect(classifyAnswer(503, '', 'Fri, 31 Dec 2027 23:59:59 GMT', 60_000, now)).toMatchObject({ retryAfterMs: 60_000 });
    expect(classifyAnswer(503, '', '5', 60_000, now)).toMatchObject({ retryAfterMs: 5_000 });
    expect(classifyAnswer(429, '', '3600')).toMatchObject({ retryAfterMs: 60_000 });
  });

  it('does not retry statuses the contract does not name', () => {
    expect(classifyAnswer(301, '', null).kind).toBe('final');
    expect(classifyAnswer(413, '', null).kind).toBe('final');
  });

  it('cuts a huge error body short in the reason', () => {
    const answer = classifyAnswer(400, 'x'.repeat(10_000), null);
    expect(answer.kind === 'final' && answer.reason.length).toBeLessThan(400);
  });
});

describe('classifyNoAnswer', () => {
  it('retries timeouts and refused connections, naming them', () => {
    const timeout = Object.assign(new Error('aborted'), { name: 'TimeoutError' });
    expect(classifyNoAnswer(timeout)).toMatchObject({ kind: 'retry', reason: 'external API call failed: timed out' });
    const refused = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    expect(classifyNoAnswer(refused)).toMatchObject({ kind: 'retry', reason: 'external API call failed: ECONNREFUSED' });
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates, and ignores nonsense', () => {
    const now = Date.parse('2026-11-29T10:00:00Z');
    expect(parseRetryAfter('2', now)).toBe(2_000);
    expect(parseRetryAfter('Sun, 29 Nov 2026 10:00:05 GMT', now)).toBe(5_000);
    expect(parseRetryAfter('Sun, 29 Nov 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });
});
