import { describe, expect, it } from 'vitest';
import { BACKOFF_CAP_MS, RetryableDispatchError, dispatchBackoffMs } from './dispatch-backoff.js';
import { idempotencyKey } from './external-order-api.client.js';
import { dispatchRateLimiter } from './order-dispatch.processor.js';

describe('dispatchBackoffMs', () => {
  it('doubles per attempt, jittered within the upper half, up to a cap', () => {
    expect(dispatchBackoffMs(1, new Error('x'), () => 0)).toBe(500);
    expect(dispatchBackoffMs(1, new Error('x'), () => 1)).toBe(1_000);
    expect(dispatchBackoffMs(4, new Error('x'), () => 1)).toBe(8_000);
    expect(dispatchBackoffMs(40, new Error('x'), () => 1)).toBe(BACKOFF_CAP_MS);
  });

  it('never comes back sooner than the server asked', () => {
    expect(dispatchBackoffMs(1, new RetryableDispatchError('503', 7_000), () => 1)).toBe(7_000);
    expect(dispatchBackoffMs(6, new RetryableDispatchError('503', 7_000), () => 1)).toBe(32_000);
  });
});

describe('dispatchRateLimiter', () => {
  it('never allows more than the limit per second, in 100 ms windows when it can', () => {
    expect(dispatchRateLimiter(500)).toEqual({ max: 50, duration: 100 });
    expect(dispatchRateLimiter(55)).toEqual({ max: 5, duration: 100 });
    expect(dispatchRateLimiter(5)).toEqual({ max: 5, duration: 1_000 });
    expect(dispatchRateLimiter(1)).toEqual({ max: 1, duration: 1_000 });
  });
});

describe('idempotencyKey', () => {
  it('is the order id when it fits in a header, else the id percent-encoded', () => {
    expect(idempotencyKey('A-1001')).toBe('A-1001');
    expect(idempotencyKey("x'; DROP TABLE orders;--")).toBe("x'; DROP TABLE orders;--");
    expect(idempotencyKey('订单-1')).toBe(encodeURIComponent('订单-1'));
    expect(idempotencyKey(' padded ')).toBe('%20padded%20');
  });
});
