import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { BullBoardModule } from '@bull-board/nestjs';
import { Module, type DynamicModule } from '@nestjs/common';
import { ALL_QUEUES, DEAD_LETTER_QUEUES } from '../queues/queue-catalog.js';

export const DASHBOARD_ROUTE = '/admin/queues';

/** Bull Board at /admin/queues: every work and dead-letter queue (behind the API keys: see dashboardAuth). */
@Module({})
export class DashboardModule {
  static forRoot(): DynamicModule {
    return {
      module: DashboardModule,
      imports: [
        BullBoardModule.forRoot({ route: DASHBOARD_ROUTE, adapter: FastifyAdapter, boardOptions: { uiConfig: { boardTitle: 'ordersync' } } }),
        BullBoardModule.forFeature(
          ...ALL_QUEUES.map((name) => ({ name, adapter: BullMQAdapter, options: { readOnlyMode: false, description: DEAD_LETTER_QUEUES.includes(name) ? 'dead letters: retry through /queues/:name/dead-letters' : undefined } })),
        ),
      ],
    };
  }
}
