import { BullModule } from '@nestjs/bullmq';
import { Module, type DynamicModule, type OnModuleInit } from '@nestjs/common';
import { MetricsService } from '../metrics/metrics.service.js';
import { DEAD_LETTER_JOB_OPTIONS } from '../queues/dead-letter.js';
import {
  DISPATCH_RESULTS_JOB_OPTIONS,
  DISPATCH_RESULTS_QUEUE,
  DISPATCH_SCHEDULE_JOB_OPTIONS,
  DISPATCH_SCHEDULE_QUEUE,
  ORDER_DISPATCH_JOB_OPTIONS,
  ORDER_DISPATCH_QUEUE,
} from '../queues/order-dispatch.queue.js';
import { ORDER_EVENTS_JOB_OPTIONS, ORDER_EVENTS_QUEUE } from '../queues/order-events.queue.js';
import { DeadLettersService } from './dead-letters.service.js';
import { operationsRedisProvider } from './operations-redis.js';
import { DEAD_LETTER_QUEUES, WORK_QUEUES } from './queue-catalog.js';
import { QueueDepthService } from './queue-depth.service.js';
import { QueuesController } from './queues.controller.js';

const WORK_JOB_OPTIONS: Record<string, object> = {
  [ORDER_EVENTS_QUEUE]: ORDER_EVENTS_JOB_OPTIONS,
  [ORDER_DISPATCH_QUEUE]: ORDER_DISPATCH_JOB_OPTIONS,
  [DISPATCH_RESULTS_QUEUE]: DISPATCH_RESULTS_JOB_OPTIONS,
  [DISPATCH_SCHEDULE_QUEUE]: DISPATCH_SCHEDULE_JOB_OPTIONS,
};

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
      imports: [
        BullModule.registerQueue(
          ...WORK_QUEUES.map((queue) => ({ name: queue.name, defaultJobOptions: WORK_JOB_OPTIONS[queue.name] ?? {} })),
          ...DEAD_LETTER_QUEUES.map((name) => ({ name, defaultJobOptions: DEAD_LETTER_JOB_OPTIONS })),
        ),
      ],
      controllers: options.serveHttp ? [QueuesController] : [],
      providers: [operationsRedisProvider, QueueDepthService, DeadLettersService],
      exports: [QueueDepthService],
    };
  }

  onModuleInit(): void {
    this.metrics.useQueueDepths(() => this.depth.depths());
  }
}
