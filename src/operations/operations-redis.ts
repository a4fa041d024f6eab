import { Logger, type Provider } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { createFailFastRedis } from '../queues/fail-fast-redis.js';

export const OPERATIONS_REDIS = Symbol('OPERATIONS_REDIS');

/**
 * The operational surface's own connection. It fails fast (no offline queue) so that health,
 * queue depth and metrics answer at once when Redis is away instead of hanging a probe.
 */
export const operationsRedisProvider: Provider = {
  provide: OPERATIONS_REDIS,
  inject: [APP_CONFIG],
  useFactory: (config: AppConfig) => createFailFastRedis(config.redisUrl, 'operations connection', new Logger('Queues')),
};
