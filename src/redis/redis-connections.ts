import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { AppConfig } from '../config/app-config.js';

export type RedisClient = Redis | Cluster;

type RedisConfig = Pick<AppConfig, 'redisUrl' | 'redisClusterNodes' | 'redisSentinels' | 'redisSentinelName'>;

/** How Redis is reached: one server (REDIS_URL), a Cluster (REDIS_CLUSTER_NODES) or a Sentinel set. */
export type RedisTopology = 'single' | 'cluster' | 'sentinel';

export function redisTopology(config: RedisConfig): RedisTopology {
  if (config.redisClusterNodes.length > 0) return 'cluster';
  if (config.redisSentinels.length > 0) return 'sentinel';
  return 'single';
}

/** What REDIS_URL says besides the address: credentials, database number, TLS. */
function urlOptions(url: string): RedisOptions {
  const parsed = new URL(url);
  const db = Number(parsed.pathname.replace(/^\//, '') || 0);
  return {
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: Number.isInteger(db) ? db : 0,
    tls: parsed.protocol === 'rediss:' ? {} : undefined,
  };
}

/**
 * A connection to Redis in the configured topology, with `options` for its behaviour (offline
 * queue, retries). Every connection the service opens is made here: queues, workers, the
 * publisher, the rate gates, operations.
 */
export function createRedis(
  config: RedisConfig,
  options: RedisOptions & { clusterRetryStrategy?: ClusterOptions['clusterRetryStrategy'] } = {},
): RedisClient {
  const { clusterRetryStrategy, ...redisOptions } = options;
  const fromUrl = urlOptions(config.redisUrl);
  switch (redisTopology(config)) {
    case 'cluster':
      return new Cluster(config.redisClusterNodes, {
        enableOfflineQueue: redisOptions.enableOfflineQueue,
        enableReadyCheck: true,
        // Keep commands alive through a failover (cluster-node-timeout plus an election).
        retryDelayOnFailover: 300,
        retryDelayOnClusterDown: 300,
        maxRedirections: 64,
        clusterRetryStrategy: clusterRetryStrategy ?? ((times) => Math.min(times * 200, 2_000)),
        redisOptions: { ...fromUrl, db: 0, ...redisOptions },
      });
    case 'sentinel':
      // No failoverDetector: with ioredis 5.11 it can end a reconnecting client for good.
      return new Redis({ ...fromUrl, ...redisOptions, sentinels: config.redisSentinels, name: config.redisSentinelName });
    default:
      return new Redis(config.redisUrl, redisOptions);
  }
}

/** The masters to ask about what each holds (a Cluster answers keyless commands from a random one). */
export function mastersOf(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

/** Deletes every key matching `pattern` on every master (SCAN is per node on a Cluster). */
export async function deleteMatching(client: RedisClient, pattern: string): Promise<void> {
  for (const node of mastersOf(client)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      for (const key of keys) await node.del(key);
      cursor = next;
    } while (cursor !== '0');
  }
}

/**
 * The BullMQ prefix of a queue. On a Cluster every key of a queue must hash to one slot, so the
 * prefix is a hash tag: `{ordersync}` for all queues, and one of their own for the partitions of
 * order-events (`{ordersync-order-events-3}`), so that they spread over the shards.
 */
export function queuePrefixFor(config: Pick<AppConfig, 'queuePrefix'> & RedisConfig, queueName: string, partitioned: boolean): string {
  if (redisTopology(config) !== 'cluster') return config.queuePrefix;
  const base = config.queuePrefix.replace(/^\{(.*)\}$/, '$1');
  return partitioned ? `{${base}-${queueName}}` : `{${base}}`;
}
