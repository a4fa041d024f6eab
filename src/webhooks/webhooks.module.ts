import { Module, type DynamicModule } from '@nestjs/common';
import { AlibabaSignatureGuard } from './alibaba-signature.guard.js';
import { OrderEventsPublisher } from './order-events.publisher.js';
import { WebhookSignatureGuard } from './webhook-signature.guard.js';
import { WebhooksController } from './webhooks.controller.js';

/**
 * Ingestion: writes no table; its only output is the order-events queues. The publisher also
 * serves the pull from 1688 (worker role), so that pulled messages take the pushes' path.
 */
@Module({})
export class WebhooksModule {
  static forRoot(options: { serveHttp: boolean }): DynamicModule {
    return {
      module: WebhooksModule,
      controllers: options.serveHttp ? [WebhooksController] : [],
      providers: [OrderEventsPublisher, AlibabaSignatureGuard, WebhookSignatureGuard],
      exports: [OrderEventsPublisher],
    };
  }
}
