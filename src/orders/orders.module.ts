import { Module, type DynamicModule } from '@nestjs/common';
import { DISPATCH_RESULTS_DLQ, DISPATCH_RESULTS_QUEUE, DISPATCH_SCHEDULE_QUEUE, ORDER_DISPATCH_QUEUE } from '../queues/order-dispatch.queue.js';
import { ORDER_EVENTS_DLQ, ORDER_EVENTS_QUEUE } from '../queues/order-events.queue.js';
import { registerQueues } from '../queues/queue-catalog.js';
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
      imports: [registerQueues(ORDER_EVENTS_QUEUE, ORDER_EVENTS_DLQ, ORDER_DISPATCH_QUEUE, DISPATCH_RESULTS_QUEUE, DISPATCH_RESULTS_DLQ, DISPATCH_SCHEDULE_QUEUE)],
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
