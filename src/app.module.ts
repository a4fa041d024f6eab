import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { AppConfig } from './config/app-config.js';
import { AppConfigModule } from './config/app-config.module.js';
import { DashboardModule } from './dashboard/dashboard.module.js';
import { dataSourceOptions } from './database/data-source-options.js';
import { PgPoolErrorListener } from './database/pg-pool.js';
import { DispatchModule } from './dispatch/dispatch.module.js';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { OperationsModule } from './operations/operations.module.js';
import { OrdersModule } from './orders/orders.module.js';
import { QueuesModule } from './queues/queues.module.js';
import { RedisModule } from './redis/redis.module.js';
import { ReconciliationModule } from './reconciliation/reconciliation.module.js';
import { WebhooksModule } from './webhooks/webhooks.module.js';

@Module({})
export class AppModule {
  /**
   * The modules a role needs: `api` serves every route and runs no job; `worker` runs the
   * processors and schedules, with at most /health and /metrics over HTTP; `all` both.
   */
  static forRoot(config: AppConfig): DynamicModule {
    const serveApi = config.role !== 'worker';
    const serveOps = serveApi || config.workerHttpPort > 0;
    const runWorkers = config.role !== 'api';
    const roles = { serveHttp: serveApi, runWorkers };
    const orders = OrdersModule.forRoot(config, roles);
    const webhooks = WebhooksModule.forRoot({ serveHttp: serveApi });
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(config),
        RedisModule,
        TypeOrmModule.forRoot(dataSourceOptions(config)),
        QueuesModule.forRoot(config),
        MetricsModule.forRoot({ serveHttp: serveOps }),
        orders,
        DispatchModule.forRoot(config, roles, orders),
        webhooks,
        ReconciliationModule.forRoot(config, roles, { orders, webhooks }),
        OperationsModule.forRoot({ serveHttp: serveApi }),
        ...(serveOps ? [HealthModule] : []),
        ...(serveApi ? [DashboardModule.forRoot(config)] : []),
      ],
      providers: [PgPoolErrorListener],
    };
  }
}
