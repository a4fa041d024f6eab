import { Module, type DynamicModule } from '@nestjs/common';
import { AlibabaModule } from '../alibaba/alibaba.module.js';
import type { AppConfig } from '../config/app-config.js';
import { OrdersModule } from '../orders/orders.module.js';
import { WebhooksModule } from '../webhooks/webhooks.module.js';
import { PullService } from './pull.service.js';
import { ReconciliationController } from './reconciliation.controller.js';
import { ReconciliationService } from './reconciliation.service.js';
import { SweepService } from './sweep.service.js';
import { PullProcessor, SweepProcessor } from './sync.processors.js';
import { SyncRepository } from './sync.repository.js';

/**
 * Never lose a 1688 status: pull what 1688 could not push, compare 1688's orders with ours, and
 * show the drift. Owns sync_runs and sync_watermarks; reads orders through the orders module and
 * puts what it finds on the order-events queues through the webhooks' publisher, so that pulled
 * and reconciled statuses are applied exactly as pushes are.
 */
@Module({})
export class ReconciliationModule {
  /** `modules` are the OrdersModule and WebhooksModule the app imports (one instance each). */
  static forRoot(
    _config: AppConfig,
    options: { serveHttp: boolean; runWorkers: boolean },
    modules: { orders: DynamicModule; webhooks: DynamicModule },
  ): DynamicModule {
    if (modules.orders.module !== OrdersModule || modules.webhooks.module !== WebhooksModule)
      throw new Error('ReconciliationModule needs the OrdersModule and the WebhooksModule');
    return {
      module: ReconciliationModule,
      imports: [AlibabaModule, modules.orders, modules.webhooks],
      controllers: options.serveHttp ? [ReconciliationController] : [],
      providers: [
        SyncRepository,
        ReconciliationService,
        PullService,
        SweepService,
        ...(options.runWorkers ? [PullProcessor, SweepProcessor] : []),
      ],
    };
  }
}
