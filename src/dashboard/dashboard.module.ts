import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { BullBoardModule } from '@bull-board/nestjs';
import { Module, type DynamicModule } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { queueSpecs } from '../queues/queue-catalog.js';

export const DASHBOARD_ROUTE = '/admin/queues';

/** Bull Board at /admin/queues: every work and dead-letter queue, behind the admin keys (see dashboardAuth). */
@Module({})
export class DashboardModule {
  static forRoot(config: AppConfig): DynamicModule {
    const specs = queueSpecs({ orderEventsPartitions: config.orderEventsPartitions });
    return {
      module: DashboardModule,
      imports: [
        BullBoardModule.forRoot({
          route: DASHBOARD_ROUTE,
          adapter: FastifyAdapter,
          boardOptions: { uiConfig: { boardTitle: 'ordersync' } },
        }),
        BullBoardModule.forFeature(
          ...specs.map((spec) => ({
            name: spec.name,
            adapter: BullMQAdapter,
            options: {
              readOnlyMode: false,
              description: spec.kind === 'dead-letter' ? 'dead letters: retry through /queues/:name/dead-letters' : undefined,
            },
          })),
        ),
      ],
    };
  }
}
