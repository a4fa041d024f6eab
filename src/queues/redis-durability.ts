import type { Redis } from 'ioredis';
import { createRedis, mastersOf } from '../redis/redis-connections.js';
import type { AppConfig } from '../config/app-config.js';
import type { PinoNestLogger } from '../logging/logger.js';

/** What Redis says about keeping what it was given. */
export interface RedisDurability {
  maxmemoryPolicy: string | null;
  aofEnabled: boolean | null;
  appendfsync: string | null;
  rdbSaves: string | null;
}

export class RedisPolicyError extends Error {}

function infoField(info: string, name: string): string | null {
  return new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? null;
}

/** Reads the eviction policy and persistence settings (CONFIG GET where allowed, INFO otherwise: managed Redis often forbids CONFIG). */
export async function readRedisDurability(redis: Redis): Promise<RedisDurability> {
  const [memory, persistence] = await Promise.all([redis.info('memory'), redis.info('persistence')]);
  const config = async (name: string): Promise<string | null> => {
    try {
      const pair = (await redis.config('GET', name)) as string[];
      return pair[1] ?? null;
    } catch {
      return null;
    }
  };
  return {
    maxmemoryPolicy: infoField(memory, 'maxmemory_policy') ?? (await config('maxmemory-policy')),
    aofEnabled: infoField(persistence, 'aof_enabled') === null ? null : infoField(persistence, 'aof_enabled') === '1',
    appendfsync: await config('appendfsync'),
    rdbSaves: await config('save'),
  };
}

/**
 * Checked once at start: a Redis that evicts keys under memory pressure can drop jobs that were
 * answered 2xx. `noeviction` is required: production refuses to start without it, elsewhere it
 * is a loud warning. The persistence settings are logged (AOF off means a Redis restart loses
 * what it held). A Redis that cannot be reached now is not checked: the service starts and
 * answers 503 until it is there, and the check is the operator's to make then.
 */
export async function checkRedisDurability(
  config: Pick<AppConfig, 'redisUrl' | 'production' | 'redisClusterNodes' | 'redisSentinels' | 'redisSentinelName'>,
  logger: PinoNestLogger,
  timeoutMs = 5_000,
): Promise<RedisDurability | null> {
  const redis = createRedis(config, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
    clusterRetryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
  } catch (error) {
    logger.warn({
      msg: 'Redis not reachable at start: its eviction policy and persistence are not checked',
      err: (error as Error).message,
    });
    redis.disconnect();
    return null;
  }
  try {
    // Every master of a Cluster: one that evicts is enough to lose jobs.
    const all = await Promise.all(mastersOf(redis).map((node) => readRedisDurability(node)));
    const durability = all.find((d) => d.maxmemoryPolicy !== null && d.maxmemoryPolicy !== 'noeviction') ?? all[0];
    logger.log({ msg: 'Redis durability', ...durability });
    if (durability.aofEnabled === false)
      logger.warn({ msg: 'Redis has AOF off: a Redis restart loses the jobs it held since its last snapshot' });
    if (durability.maxmemoryPolicy !== null && durability.maxmemoryPolicy !== 'noeviction') {
      const text = `Redis maxmemory-policy is "${durability.maxmemoryPolicy}": under memory pressure it evicts keys, queued jobs included. Set maxmemory-policy noeviction.`;
      if (config.production) throw new RedisPolicyError(text);
      logger.warn({ msg: `${text} (allowed outside production)` });
    }
    return durability;
  } finally {
    redis.disconnect();
  }
}
