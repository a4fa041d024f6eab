import { BullModule } from '@nestjs/bullmq';
import { Module, type DynamicModule } from '@nestjs/common';
import { DEAD_LETTER_JOB_OPTIONS } from '../queues/dead-letter.js';
import { ORDER_EVENTS_DLQ, ORDER_EVENTS_JOB_OPTIONS, ORDER_EVENTS_QUEUE } from '../queues/order-events.queue.js';
import {
  DISPATCH_RESULTS_DLQ,
  DISPATCH_RESULTS_JOB_OPTIONS,
  DISPATCH_RESULTS_QUEUE,
  DISPATCH_SCHEDULE_JOB_OPTIONS,
  DISPATCH_SCHEDULE_QUEUE,
  ORDER_DISPATCH_JOB_OPTIONS,
  ORDER_DISPATCH_QUEUE,
} from '../queues/order-dispatch.queue.js';
import { DispatchClaimsService } from './dispatch-claims.service.js';
import { DispatchResultApplier } from './dispatch-result-applier.js';
import { DispatchResultsProcessor } from './dispatch-results.processor.js';
import { DispatchScheduleProcessor } from './dispatch-schedule.processor.js';
import { OrderEventsProcessor } from './order-events.processor.js';
import { OrderMessageApplier } from './order-message-applier.js';
import { OrderQueuesErrorLog } from './order-queues-error-log.js';
import { OrdersController } from './orders.controller.js';
import { OrdersService } from './orders.service.js';

/**
 * The order domain: the only writer of the order tables. Global, so that other modules reach
 * its services (claims for dispatch) without a second instance of it.
 */
@Module({})
export class OrdersModule {
  static forRoot(options: { runWorkers: boolean; serveHttp: boolean }): DynamicModule {
    return {
      module: OrdersModule,
      global: true,
      imports: [
        BullModule.registerQueue(
          { name: ORDER_EVENTS_QUEUE, defaultJobOptions: ORDER_EVENTS_JOB_OPTIONS },
          { name: ORDER_EVENTS_DLQ, defaultJobOptions: DEAD_LETTER_JOB_OPTIONS },
          { name: ORDER_DISPATCH_QUEUE, defaultJobOptions: ORDER_DISPATCH_JOB_OPTIONS },
          { name: DISPATCH_RESULTS_QUEUE, defaultJobOptions: DISPATCH_RESULTS_JOB_OPTIONS },
          { name: DISPATCH_RESULTS_DLQ, defaultJobOptions: DEAD_LETTER_JOB_OPTIONS },
          { name: DISPATCH_SCHEDULE_QUEUE, defaultJobOptions: DISPATCH_SCHEDULE_JOB_OPTIONS },
        ),
      ],
      controllers: options.serveHttp ? [OrdersController] : [],
      providers: [
        OrdersService,
        OrderMessageApplier,
        OrderQueuesErrorLog,
        DispatchClaimsService,
        DispatchResultApplier,
        ...(options.runWorkers ? [OrderEventsProcessor, DispatchResultsProcessor, DispatchScheduleProcessor] : []),
      ],
      exports: [OrdersService, DispatchClaimsService],
    };
  }
}
