import { BullModule, getQueueToken } from '@nestjs/bullmq';
import { Global, Module, type DynamicModule } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import type { Queue } from 'bullmq';
import type { AppConfig } from '../config/app-config.js';
import { queuePrefixFor, type RedisClient } from '../redis/redis-connections.js';
import { BULLMQ_REDIS } from '../redis/redis.module.js';
import { bullmqTelemetry } from '../telemetry/tracing.js';
import { DeadLetterRedrivers } from './dead-letter-redrivers.js';
import { DependencyOutages } from './dependency-outages.js';
import { QueueCatalog, queueSpecs } from './queue-catalog.js';
import { QueueDepthService } from './queue-depth.service.js';
import { QueueErrorLog } from './queue-error-log.js';
import { WorkerRegistry } from './worker-registry.js';

/**
 * The BullMQ connection and one Queue instance per queue of the catalog, for the whole process.
 * Infrastructure, like the config: global so that every module injects the queues it uses
 * (`@InjectQueue(name)`) without a second instance (and a second connection) per module.
 */
@Global()
@Module({})
export class QueuesModule {
  static forRoot(config: AppConfig): DynamicModule {
    const specs = queueSpecs({ orderEventsPartitions: config.orderEventsPartitions });
    const registered = BullModule.registerQueueAsync(
      ...specs.map((spec) => ({
        name: spec.name,
        inject: [BULLMQ_REDIS],
        useFactory: (connection: RedisClient) => ({
          connection,
          prefix: queuePrefixFor(config, spec.name, spec.partitioned),
          defaultJobOptions: spec.jobOptions,
          telemetry: bullmqTelemetry(),
        }),
      })),
    );
    return {
      module: QueuesModule,
      imports: [
        DiscoveryModule,
        BullModule.forRootAsync({
          inject: [BULLMQ_REDIS],
          useFactory: (connection: RedisClient) => ({
            connection,
            prefix: queuePrefixFor(config, '', false),
            telemetry: bullmqTelemetry(),
          }),
        }),
        registered,
      ],
      providers: [
        WorkerRegistry,
        DeadLetterRedrivers,
        DependencyOutages,
        QueueErrorLog,
        QueueDepthService,
        {
          provide: QueueCatalog,
          inject: specs.map((spec) => getQueueToken(spec.name)),
          useFactory: (...queues: Queue[]) => new QueueCatalog(specs.map((spec, i) => ({ spec, queue: queues[i] }))),
        },
      ],
      exports: [registered, QueueCatalog, QueueDepthService, WorkerRegistry, DependencyOutages, DeadLetterRedrivers],
    };
  }
}
