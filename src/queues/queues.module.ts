import { BullModule } from '@nestjs/bullmq';
import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { WorkerRegistry } from './worker-registry.js';

/** The shared BullMQ connection; each module registers the queues it uses. */
@Global()
@Module({
  providers: [WorkerRegistry],
  exports: [WorkerRegistry],
  imports: [
    DiscoveryModule,
    BullModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        connection: { url: config.redisUrl },
        prefix: config.queuePrefix,
      }),
    }),
  ],
})
export class QueuesModule {}
