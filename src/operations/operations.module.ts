import { Module, type DynamicModule } from '@nestjs/common';
import { DeadLettersService } from './dead-letters.service.js';
import { QueuesController } from './queues.controller.js';

/**
 * The SRE surface: queue depth and dead-letter operations, through the queue catalog. Writes no
 * table; re-drives through the queues and the owning modules' redrivers.
 */
@Module({})
export class OperationsModule {
  static forRoot(options: { serveHttp: boolean }): DynamicModule {
    return {
      module: OperationsModule,
      controllers: options.serveHttp ? [QueuesController] : [],
      providers: [DeadLettersService],
    };
  }
}
