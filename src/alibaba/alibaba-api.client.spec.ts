import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { AppConfig } from '../config/app-config.js';
import type { MetricsService } from '../metrics/metrics.service.js';
import type { RedisClient } from '../redis/redis-connections.js';
import { AlibabaApiClient } from './alibaba-api.client.js';
import { BUYER_ORDER_LIST, BUYER_ORDER_VIEW, PUSH_MESSAGE_LIST } from './alibaba-api.js';
import type { AlibabaTokenService } from './alibaba-token.service.js';

/**
 * The client's rate gate and answer times, on the real Redis (a key prefix of its own) with 1688
 * stood in for by a stubbed fetch: the window each admission asks the fleet gate for (one second
 * plus the margin, read off the eval call), and how long answers took. The limit is high enough
 * that the gate never makes a call wait.
 */
const redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 });
const prefix = `alibaba-client-spec-${randomBytes(4).toString('hex')}`;
afterAll(async () => {
  await redis.del(`${prefix}:alibaba-rate-log`);
  redis.disconnect();
});

function client() {
  const windows: number[] = [];
  const recording = new Proxy(redis, {
    get(target, property, receiver) {
      if (property !== 'eval') return Reflect.get(target, property, receiver) as unknown;
      // FleetRateGate: eval(script, 1, key, windowMs, perSecond, id, keepMs).
      return (...args: Parameters<Redis['eval']>) => {
        windows.push(Number(args[3]));
        return target.eval(...args);
      };
    },
  }) as unknown as RedisClient;
  const config = {
    queuePrefix: prefix,
    alibabaApiRateLimit: 100_000,
    alibabaApiUrl: 'http://1688.invalid/openapi',
    alibabaAppKey: '1234567',
    alibabaAppSecret: 'secret',
    alibabaApiTimeoutMs: 5_000,
    alibabaApiRetries: 0,
  } as AppConfig;
  const tokens = { token: async () => 'token', refused: async () => undefined } as unknown as AlibabaTokenService;
  const metrics = { alibabaApiCalls: { inc: () => undefined } } as unknown as MetricsService;
  return { api: new AlibabaApiClient(config, tokens, metrics, recording), windows };
}

/** 1688 answering each call after `delays()` ms. */
function answerAfter(delays: () => number) {
  vi.stubGlobal('fetch', async () => {
    await new Promise((resolve) => setTimeout(resolve, delays()));
    return new Response('{"result":[],"totalRecord":0}', { status: 200, headers: { 'content-type': 'application/json' } });
  });
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('AlibabaApiClient: the fleet gate widens its second by the measured spread of answer times', () => {
  it('asks for 1,100 ms until 32 answers are measured, then never less than 1,050 ms', async () => {
    const { api, windows } = client();
    answerAfter(() => 1);
    await api.call(PUSH_MESSAGE_LIST, {});
    expect(windows).toEqual([1_100]); // a first call of a process, slower than the rest, is covered
    for (let i = 0; i < 40; i++) await api.call(PUSH_MESSAGE_LIST, {});
    // Steady answers: the floor (the spread of 1 ms answers is far below it), never less.
    expect(windows.at(-1)).toBeGreaterThanOrEqual(1_050);
    expect(windows.at(-1)).toBeLessThan(1_100);
    expect(api.rateMarginMs()).toBeGreaterThanOrEqual(50);
  });

  it('widens it further when answers spread more than the floor covers', async () => {
    const { api, windows } = client();
    let n = 0;
    answerAfter(() => (n++ % 2 === 0 ? 1 : 150));
    await Promise.all(Array.from({ length: 48 }, () => api.call(PUSH_MESSAGE_LIST, {})));
    await api.call(PUSH_MESSAGE_LIST, {});
    expect(api.rateMarginMs()).toBeGreaterThanOrEqual(140);
    expect(windows.at(-1)).toBeGreaterThanOrEqual(1_140);
  });
});

describe('AlibabaApiClient: answer times', () => {
  it("gives the median time to an answer of an API, else of any API's, else none; the last one when it was slower", async () => {
    const { api } = client();
    expect(api.answerTimeMs(BUYER_ORDER_LIST)).toBeNull();
    answerAfter(() => 40);
    for (let i = 0; i < 3; i++) await api.call(BUYER_ORDER_LIST, {});
    const list = api.answerTimeMs(BUYER_ORDER_LIST) ?? 0;
    expect(list).toBeGreaterThanOrEqual(39);
    expect(list).toBeLessThan(200);
    // None of its own yet: the gateway's median (the list's own estimate is its last answer when that was slower).
    expect(api.answerTimeMs(BUYER_ORDER_VIEW)).toBeGreaterThanOrEqual(39);
    expect(api.answerTimeMs(BUYER_ORDER_VIEW)).toBeLessThanOrEqual(list);
    answerAfter(() => 1);
    for (let i = 0; i < 3; i++) await api.call(BUYER_ORDER_VIEW, {});
    expect(api.answerTimeMs(BUYER_ORDER_VIEW)).toBeLessThan(list);
    // 1688 slows down: the next estimate follows the slow answer at once, not the median of the fast ones.
    for (let i = 0; i < 20; i++) await api.call(BUYER_ORDER_VIEW, {});
    answerAfter(() => 60);
    await api.call(BUYER_ORDER_VIEW, {});
    expect(api.answerTimeMs(BUYER_ORDER_VIEW)).toBeGreaterThanOrEqual(59);
  });
});
