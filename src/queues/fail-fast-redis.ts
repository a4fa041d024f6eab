import type { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { logQueueErrors } from './queue-error-log.js';

/**
 * A Redis connection that fails a command at once while Redis is away (no offline queue, no
 * retry of the command) and keeps reconnecting in the background. For the paths that must
 * answer quickly rather than wait: webhook acks, health, queue depth, the dispatch rate gate.
 * Its connection errors are logged, rate-limited, under `name`.
 */
export function createFailFastRedis(url: string, name: string, logger: Logger): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  logQueueErrors({ name, on: (event, listener) => redis.on(event, listener) }, logger);
  return redis;
}
