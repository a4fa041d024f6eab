import { Module, type DynamicModule } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { DISPATCH_RESULTS_QUEUE, ORDER_DISPATCH_DLQ, ORDER_DISPATCH_QUEUE } from '../queues/order-dispatch.queue.js';
import { registerQueues } from '../queues/queue-catalog.js';
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
      imports: [registerQueues(ORDER_DISPATCH_QUEUE, ORDER_DISPATCH_DLQ, DISPATCH_RESULTS_QUEUE)],
      controllers: options.serveHttp ? [DispatchController] : [],
      providers: [ExternalOrderApiClient, ...(options.runWorkers ? [SendRateGate, configuredDispatchProcessor(config)] : [])],
    };
  }
}
