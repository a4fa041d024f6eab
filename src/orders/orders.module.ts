import { BullModule } from '@nestjs/bullmq';
import { Module, type DynamicModule } from '@nestjs/common';
import { DEAD_LETTER_JOB_OPTIONS, ORDER_EVENTS_DLQ, ORDER_EVENTS_JOB_OPTIONS, ORDER_EVENTS_QUEUE } from '../queues/order-events.queue.js';
import { OrderEventsProcessor } from './order-events.processor.js';
import { OrderMessageApplier } from './order-message-applier.js';
import { OrderQueuesErrorLog } from './order-queues-error-log.js';
import { OrdersController } from './orders.controller.js';
import { OrdersService } from './orders.service.js';

/** The order domain: the only writer of the order tables. */
@Module({})
export class OrdersModule {
  static forRoot(options: { runWorkers: boolean }): DynamicModule {
    return {
      module: OrdersModule,
      imports: [
        BullModule.registerQueue(
          { name: ORDER_EVENTS_QUEUE, defaultJobOptions: ORDER_EVENTS_JOB_OPTIONS },
          { name: ORDER_EVENTS_DLQ, defaultJobOptions: DEAD_LETTER_JOB_OPTIONS },
        ),
      ],
      controllers: [OrdersController],
      providers: [OrdersService, OrderMessageApplier, OrderQueuesErrorLog, ...(options.runWorkers ? [OrderEventsProcessor] : [])],
      exports: [OrdersService],
    };
  }
}
