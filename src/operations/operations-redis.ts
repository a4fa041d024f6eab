import type { Provider } from '@nestjs/common';
import { Redis } from 'ioredis';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';

export const OPERATIONS_REDIS = Symbol('OPERATIONS_REDIS');

/**
 * The operational surface's own connection. It fails fast (no offline queue) so that health,
 * queue depth and metrics answer at once when Redis is away instead of hanging a probe.
 */
export const operationsRedisProvider: Provider = {
  provide: OPERATIONS_REDIS,
  inject: [APP_CONFIG],
  useFactory: (config: AppConfig) =>
    new Redis(config.redisUrl, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 2_000,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    }),
};
