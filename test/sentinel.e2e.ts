import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderMessage, push1688 } from './support/http.js';
import { startRedisSentinelSet, type RedisSentinelSet } from './support/redis-sentinel.js';
import { eventually, startTestService, type TestService } from './support/service.js';

/**
 * Acknowledged means replicated, when asked: with REDIS_MIN_REPLICAS_ACK=1 a push is answered 2xx
 * only once a replica holds its job (WAIT), so killing the primary (kill -9) under load and
 * failing over to the replica loses no acknowledged message. A real Sentinel set: a primary, a
 * replica and three sentinels, local redis-server processes.
 */
let set: RedisSentinelSet;
let t: TestService;

beforeAll(async () => {
  set = await startRedisSentinelSet();
  t = await startTestService('sentinel', {
    REDIS_SENTINELS: set.sentinelsEnv,
    REDIS_SENTINEL_NAME: set.name,
    REDIS_MIN_REPLICAS_ACK: '1',
    REDIS_REPLICAS_ACK_TIMEOUT_MS: '1000',
    ENQUEUE_TIMEOUT_MS: '1500',
  });
}, 90_000);
afterAll(async () => {
  await t?.stop().catch(() => undefined);
  await set?.stop();
});

describe('Redis Sentinel with REDIS_MIN_REPLICAS_ACK=1', () => {
  it('loses no acknowledged push when the primary is killed under load', { timeout: 120_000 }, async () => {
    const total = 300;
    const acked = new Set<number>();
    let refused = 0;
    // A sender like 1688: a push that is not answered 2xx is sent again, until it is.
    const pending = Array.from({ length: total }, (_, i) => 930_000 + i);
    const send = async () => {
      for (;;) {
        const msgId = pending.shift();
        if (msgId === undefined) return;
        const answer = await push1688(
          t.baseUrl,
          orderMessage({ msgId, orderId: String(469000000000000000n + BigInt(msgId % 50)), status: 'waitsellersend', gmtBorn: msgId }),
        ).catch(() => ({ status: 0 }));
        if (answer.status === 200) acked.add(msgId);
        else {
          refused++;
          pending.push(msgId);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    };
    const senders = Array.from({ length: 8 }, () => send());
    await eventually(() => (acked.size >= total / 3 ? true : undefined), 30_000, 'a third acknowledged');
    const killedAt = acked.size;
    const old = await set.killPrimary();
    const promoted = await set.waitForFailover(30_000);
    expect(promoted.port).not.toBe(old.port);
    // With no replica left nothing can be acknowledged (WAIT 1 answers 0: 503s, 1688 re-sends)
    // until the old primary comes back, as a replica of the new one.
    await set.restartAsReplica(old);
    await Promise.all(senders);
    expect(acked.size).toBe(total);
    // Every acknowledged message is applied, those answered before the kill included.
    await eventually(
      async () => {
        const { rows } = await t.db.query(
          `SELECT count(*)::int AS n FROM inbox_messages WHERE source = '1688' AND message_id::bigint >= 930000`,
        );
        return rows[0].n === total ? true : undefined;
      },
      60_000,
      'every acknowledged message applied after the failover',
    );
    expect(killedAt).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  });
});
