import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { dataSourceOptions } from './database/data-source-options.js';
import { DispatchModule } from './dispatch/dispatch.module.js';
import { HealthModule } from './health/health.module.js';
import { OperationsModule } from './operations/operations.module.js';
import { OrdersModule } from './orders/orders.module.js';
import { QueuesModule } from './queues/queues.module.js';
import { WebhooksModule } from './webhooks/webhooks.module.js';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    const serveHttp = config.role !== 'worker';
    const runWorkers = config.role !== 'api';
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        TypeOrmModule.forRoot(dataSourceOptions(config)),
        QueuesModule,
        OrdersModule.forRoot({ runWorkers }),
        DispatchModule.forRoot(config, { serveHttp, runWorkers }),
        ...(serveHttp ? [WebhooksModule, HealthModule, OperationsModule] : []),
      ],
    };
  }
}
