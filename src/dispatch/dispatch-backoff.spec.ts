import { describe, expect, it } from 'vitest';
import { BACKOFF_CAP_MS, DEFAULT_DISPATCH_MAX_ATTEMPTS, RetryableDispatchError, dispatchBackoffMs } from './dispatch-backoff.js';
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
  it.each([1, 2, 5, 50, 55, 200, 500, 5_000])('starts at most %i jobs per aligned second, close to it', (limit) => {
    const { max, duration } = dispatchRateLimiter(limit);
    expect(max).toBeGreaterThanOrEqual(1);
    expect((max * 1_000) / duration).toBeLessThanOrEqual(limit);
    expect((max * 1_000) / duration).toBeGreaterThanOrEqual(limit * 0.9);
  });
});

describe('idempotencyKey', () => {
  it('is the order id percent-encoded one-to-one: every byte outside A-Z a-z 0-9 - _ . ~, % included', () => {
    expect(idempotencyKey('A-1001')).toBe('A-1001');
    expect(idempotencyKey('1001')).toBe('1001');
    expect(idempotencyKey("x'; DROP TABLE orders;--")).toBe('x%27%3B%20DROP%20TABLE%20orders%3B--');
    expect(idempotencyKey('订单-1')).toBe(encodeURIComponent('订单-1'));
    expect(idempotencyKey(' padded ')).toBe('%20padded%20');
    // Once two ids could share a key: " x " and "%20x%20".
    expect(idempotencyKey(' x ')).not.toBe(idempotencyKey('%20x%20'));
  });
});

describe('the default retry schedule', () => {
  it('outlasts a supplier that is down for 10 minutes, even with the shortest jitter', () => {
    let waited = 0;
    for (let attemptsMade = 1; attemptsMade < DEFAULT_DISPATCH_MAX_ATTEMPTS; attemptsMade++)
      waited += dispatchBackoffMs(attemptsMade, new Error('503'), () => 0);
    expect(waited).toBeGreaterThan(10 * 60_000);
  });
});
