import { Global, Inject, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/app-config.module.js';
import { createFailFastRedis } from './fail-fast-redis.js';
import { createRedis, type RedisClient } from './redis-connections.js';

/** The process's fail-fast connection (see createFailFastRedis): rate gates, the 1688 token, operations. */
export const FAIL_FAST_REDIS = Symbol('FAIL_FAST_REDIS');
/**
 * BullMQ's connection: every Queue instance of the process shares it, and workers start from it
 * (they duplicate it for their blocking reads). Its commands wait out an outage (BullMQ requires
 * that of workers, which take the queue's connection); request paths that add jobs bound the wait.
 */
export const BULLMQ_REDIS = Symbol('BULLMQ_REDIS');

/** Every Redis connection of the process but the publisher's is made here, in the configured topology. */
@Global()
@Module({
  providers: [
    {
      provide: FAIL_FAST_REDIS,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => createFailFastRedis(config, 'fail-fast connection', new Logger('Redis')),
    },
    {
      provide: BULLMQ_REDIS,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => createRedis(config, { maxRetriesPerRequest: null }),
    },
  ],
  exports: [FAIL_FAST_REDIS, BULLMQ_REDIS],
})
export class RedisModule implements OnApplicationShutdown {
  constructor(
    @Inject(FAIL_FAST_REDIS) private readonly failFast: RedisClient,
    @Inject(BULLMQ_REDIS) private readonly bullmq: RedisClient,
  ) {}

  onApplicationShutdown(): void {
    for (const client of [this.failFast, this.bullmq]) client.disconnect();
  }
}
