import { BullModule } from '@nestjs/bullmq';
import { Module, type DynamicModule } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { DEAD_LETTER_JOB_OPTIONS } from '../queues/dead-letter.js';
import {
  DISPATCH_RESULTS_JOB_OPTIONS,
  DISPATCH_RESULTS_QUEUE,
  ORDER_DISPATCH_DLQ,
  ORDER_DISPATCH_JOB_OPTIONS,
  ORDER_DISPATCH_QUEUE,
} from '../queues/order-dispatch.queue.js';
import { DispatchController } from './dispatch.controller.js';
import { ExternalOrderApiClient } from './external-order-api.client.js';
import { configuredDispatchProcessor } from './order-dispatch.processor.js';
import { SendRateGate } from './send-rate-gate.js';

/**
 * External-API dispatch: sends claimed orders and reports what happened on dispatch-results.
 * Writes no order table; the orders module claims and records.
 */
@Module({})
export class DispatchModule {
  static forRoot(config: AppConfig, options: { serveHttp: boolean; runWorkers: boolean }): DynamicModule {
    return {
      module: DispatchModule,
      imports: [
        BullModule.registerQueue(
          { name: ORDER_DISPATCH_QUEUE, defaultJobOptions: ORDER_DISPATCH_JOB_OPTIONS },
          { name: ORDER_DISPATCH_DLQ, defaultJobOptions: DEAD_LETTER_JOB_OPTIONS },
          { name: DISPATCH_RESULTS_QUEUE, defaultJobOptions: DISPATCH_RESULTS_JOB_OPTIONS },
        ),
      ],
      controllers: options.serveHttp ? [DispatchController] : [],
      providers: [ExternalOrderApiClient, ...(options.runWorkers ? [SendRateGate, configuredDispatchProcessor(config)] : [])],
    };
  }
}
