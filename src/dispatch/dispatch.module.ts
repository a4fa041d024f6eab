import { Module, type DynamicModule } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { OrdersModule } from '../orders/orders.module.js';
import { DispatchClaimsService } from './dispatch-claims.service.js';
import { DispatchDeadLetters } from './dispatch-dead-letters.js';
import { DispatchResultApplier } from './dispatch-result-applier.js';
import { DispatchResultsProcessor } from './dispatch-results.processor.js';
import { DispatchScheduleProcessor } from './dispatch-schedule.processor.js';
import { DispatchController } from './dispatch.controller.js';
import { ExternalOrderApiClient } from './external-order-api.client.js';
import { LeaseRecoveryService } from './lease-recovery.service.js';
import { configuredDispatchProcessor } from './order-dispatch.processor.js';
import { SendRateGate } from './send-rate-gate.js';

/**
 * External-API dispatch: claims PENDING orders, sends each once, records what happened, and
 * recovers orders whose lease expired. Order state is written through the orders module's
 * repositories; the order-dispatch, dispatch-results and dispatch-schedule queues are its own.
 */
@Module({})
export class DispatchModule {
  /** `orders` is the OrdersModule the app imports (one instance: its processors run once). */
  static forRoot(config: AppConfig, options: { serveHttp: boolean; runWorkers: boolean }, orders: DynamicModule): DynamicModule {
    if (orders.module !== OrdersModule) throw new Error('DispatchModule needs the OrdersModule');
    return {
      module: DispatchModule,
      imports: [orders],
      controllers: options.serveHttp ? [DispatchController] : [],
      providers: [
        DispatchClaimsService,
        DispatchDeadLetters,
        LeaseRecoveryService,
        DispatchResultApplier,
        ExternalOrderApiClient,
        ...(options.runWorkers
          ? [SendRateGate, configuredDispatchProcessor(config), DispatchResultsProcessor, DispatchScheduleProcessor]
          : []),
      ],
      exports: [DispatchClaimsService],
    };
  }
}
