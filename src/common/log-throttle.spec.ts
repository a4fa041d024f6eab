import { describe, expect, it } from 'vitest';
import { LogThrottle } from './log-throttle.js';

describe('LogThrottle', () => {
  it('logs the first occurrence, then one per interval with the count left out', () => {
    let now = 0;
    const throttle = new LogThrottle(10_000, () => now);
    expect(throttle.take('503 /webhooks/1688')).toEqual({ suppressed: 0 });
    for (let i = 0; i < 4_999; i++) {
      now += 1;
      expect(throttle.take('503 /webhooks/1688')).toBeNull();
    }
    now = 10_000;
    expect(throttle.take('503 /webhooks/1688')).toEqual({ suppressed: 4_999 });
    expect(throttle.take('503 /webhooks/1688')).toBeNull();
    now = 20_000;
    expect(throttle.take('503 /webhooks/1688')).toEqual({ suppressed: 1 });
  });

  it('counts each key on its own', () => {
    const now = 0;
    const throttle = new LogThrottle(10_000, () => now);
    expect(throttle.take('a')).toEqual({ suppressed: 0 });
    expect(throttle.take('b')).toEqual({ suppressed: 0 });
    expect(throttle.take('a')).toBeNull();
  });

  it('remembers a bounded number of keys, forgetting the oldest', () => {
    const now = 0;
    const throttle = new LogThrottle(10_000, () => now, 2);
    throttle.take('a');
    throttle.take('b');
    throttle.take('c'); // forgets "a"
    expect(throttle.take('a')).toEqual({ suppressed: 0 });
    expect(throttle.take('c')).toBeNull();
  });
});
