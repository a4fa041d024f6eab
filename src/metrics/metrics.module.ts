import { Global, Module, type DynamicModule } from '@nestjs/common';
import { MetricsController } from './metrics.controller.js';
import { MetricsService } from './metrics.service.js';

/** Metrics: every module records into one registry; served at /metrics where HTTP runs. */
@Global()
@Module({})
export class MetricsModule {
  static forRoot(options: { serveHttp: boolean }): DynamicModule {
    return {
      module: MetricsModule,
      controllers: options.serveHttp ? [MetricsController] : [],
      providers: [MetricsService],
      exports: [MetricsService],
    };
  }
}
