import { Module, type DynamicModule, type OnModuleInit } from '@nestjs/common';
import { MetricsService } from '../metrics/metrics.service.js';
import { ALL_QUEUES, registerQueues } from '../queues/queue-catalog.js';
import { DeadLettersService } from './dead-letters.service.js';
import { operationsRedisProvider } from './operations-redis.js';
import { QueueDepthService } from './queue-depth.service.js';
import { QueuesController } from './queues.controller.js';

/**
 * The SRE surface: queue depth and dead-letter operations. Writes no table; re-drives through
 * queues and the orders service. Queue depth also feeds /metrics and readiness wherever they run.
 */
@Module({})
export class OperationsModule implements OnModuleInit {
  constructor(
    private readonly metrics: MetricsService,
    private readonly depth: QueueDepthService,
  ) {}

  static forRoot(options: { serveHttp: boolean }): DynamicModule {
    return {
      module: OperationsModule,
      global: true,
      imports: [registerQueues(...ALL_QUEUES)],
      controllers: options.serveHttp ? [QueuesController] : [],
      providers: [operationsRedisProvider, QueueDepthService, DeadLettersService],
      exports: [QueueDepthService],
    };
  }

  onModuleInit(): void {
    this.metrics.useQueueDepths(() => this.depth.depths());
  }
}
