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
  it.each([1, 2, 5, 50, 55, 200, 500, 1_000, 5_000])('keeps any second within a limit of %i calls, close to it', (limit) => {
    const { max, duration } = dispatchRateLimiter(limit);
    expect(max).toBeGreaterThanOrEqual(1);
    // The worst second overlaps 1000/duration + 1 windows; one call per window spaces them.
    const worstSecond = max === 1 ? Math.ceil(1_000 / duration) : max * (Math.ceil(1_000 / duration) + 1);
    expect(worstSecond).toBeLessThanOrEqual(limit);
    if (limit >= 50) expect((max * 1_000) / duration).toBeGreaterThanOrEqual(limit * 0.9);
  });

  it('uses 12 calls per 25 ms for 500/s: 480/s sustained, at most 492 in any second', () => {
    expect(dispatchRateLimiter(500)).toEqual({ max: 12, duration: 25 });
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
