import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderEventsQueues } from '../src/queues/order-events.queue.js';
import { queuePrefixFor } from '../src/redis/redis-connections.js';
import { api, orderMessage, push1688 } from './support/http.js';
import { masterForKey } from './support/redis-cluster.js';
import { eventually, startTestService, testTopology, type TestService } from './support/service.js';

/**
 * order-events split in ORDER_EVENTS_PARTITIONS queues by supplier order: every partition is
 * consumed, shown and dead-letter-handled, each order's messages stay in one, and on a Redis
 * Cluster the partitions land on different shards (run with TEST_REDIS_TOPOLOGY=cluster).
 */
let t: TestService;
const PARTITIONS = 4;

beforeAll(async () => {
  t = await startTestService('partitions', { ORDER_EVENTS_PARTITIONS: String(PARTITIONS) });
});
afterAll(async () => {
  await t?.stop();
});

describe('partitioned order-events', () => {
  it('takes messages in through every partition and applies them all, each order on its own', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => String(369000000000000000n + BigInt(i)));
    for (const [i, id] of ids.entries()) {
      expect((await push1688(t.baseUrl, orderMessage({ msgId: 880000 + i, orderId: id, status: 'waitsellersend' }))).status).toBe(200);
      expect(
        (
          await push1688(
            t.baseUrl,
            orderMessage({ msgId: 881000 + i, orderId: id, status: 'waitbuyerreceive', gmtBorn: Date.now() + 1_000 }),
          )
        ).status,
      ).toBe(200);
    }
    await eventually(
      async () => {
        const { rows } = await t.db.query(
          `SELECT count(*)::int AS n FROM orders WHERE supplier_order_id = ANY($1::text[]) AND supplier_status = 'waitbuyerreceive'`,
          [ids],
        );
        return rows[0].n === ids.length ? true : undefined;
      },
      20_000,
      'every order at its newest status',
    );
    const { body } = await api(t.baseUrl, 'GET', '/queues', undefined, null);
    const names = body.queues.map((q: { name: string }) => q.name);
    for (const queue of orderEventsQueues(PARTITIONS)) {
      expect(names).toContain(queue);
      expect(names).toContain(`${queue}-dead`);
      expect((await api(t.baseUrl, 'GET', `/queues/${queue}/dead-letters`)).status).toBe(200);
    }
  });

  it('spreads the partitions over the shards of a Redis Cluster', async (context) => {
    const { redisClusterNodes } = testTopology();
    if (!redisClusterNodes) return context.skip('not a Redis Cluster run (TEST_REDIS_TOPOLOGY=cluster)');
    expect(t.config.redisClusterNodes.length).toBeGreaterThan(0);
    const [host, port] = redisClusterNodes.split(',')[0].split(':');
    const seed = { host: host, port: Number(port) };
    const masters = new Set<string>();
    for (const queue of orderEventsQueues(PARTITIONS)) {
      const key = `${queuePrefixFor(t.config, queue, true)}:${queue}:wait`;
      masters.add((await masterForKey(seed, key)).masterId);
    }
    expect(masters.size).toBeGreaterThanOrEqual(2);
  });
});
