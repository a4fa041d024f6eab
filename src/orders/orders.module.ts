import { Module, type DynamicModule } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { InboxRetention } from './inbox-retention.js';
import { orderEventsProcessors } from './order-events.processors.js';
import { OrderMessageApplier } from './order-message-applier.js';
import { NewOrdersNotice } from './new-orders-notice.js';
import { OrdersController } from './orders.controller.js';
import { OrdersService } from './orders.service.js';
import { InboxRepository } from './repositories/inbox.repository.js';
import { OrderHistoryRepository } from './repositories/order-history.repository.js';
import { OrdersRepository } from './repositories/orders.repository.js';

/**
 * The order domain: owns the order tables (orders, order_history, inbox_messages) and is their
 * only writer. Applies inbound messages from the order-events queues, serves /orders, and lends
 * its repositories to dispatch, which records dispatch state through them.
 */
@Module({})
export class OrdersModule {
  static forRoot(config: AppConfig, options: { runWorkers: boolean; serveHttp: boolean }): DynamicModule {
    return {
      module: OrdersModule,
      controllers: options.serveHttp ? [OrdersController] : [],
      providers: [
        OrdersRepository,
        OrderHistoryRepository,
        InboxRepository,
        OrdersService,
        OrderMessageApplier,
        NewOrdersNotice,
        ...(options.runWorkers ? [...orderEventsProcessors(config), InboxRetention] : []),
      ],
      exports: [OrdersRepository, OrderHistoryRepository, OrdersService],
    };
  }
}
