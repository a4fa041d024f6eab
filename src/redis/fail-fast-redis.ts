import type { Logger } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { logQueueErrors } from '../queues/queue-error-log.js';
import { createRedis, type RedisClient } from './redis-connections.js';

/**
 * A Redis connection that fails a command at once while Redis is away (no offline queue, no
 * retry of the command) and keeps reconnecting in the background. For the paths that must
 * answer quickly rather than wait: webhook acks, health, the rate gates, operations.
 * Its connection errors are logged, rate-limited, under `name`.
 */
export function createFailFastRedis(
  config: Pick<AppConfig, 'redisUrl' | 'redisClusterNodes' | 'redisSentinels' | 'redisSentinelName'>,
  name: string,
  logger: Logger,
): RedisClient {
  const redis = createRedis(config, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  logQueueErrors({ name, on: (event, listener) => redis.on(event, listener) }, logger);
  return redis;
}
