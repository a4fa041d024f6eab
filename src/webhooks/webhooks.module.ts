import { Module } from '@nestjs/common';
import { AlibabaSignatureGuard } from './alibaba-signature.guard.js';
import { OrderEventsPublisher } from './order-events.publisher.js';
import { WebhookSignatureGuard } from './webhook-signature.guard.js';
import { WebhooksController } from './webhooks.controller.js';

/** Webhook ingestion: writes no table; its only output is the order-events queue. */
@Module({
  controllers: [WebhooksController],
  providers: [OrderEventsPublisher, AlibabaSignatureGuard, WebhookSignatureGuard],
  exports: [OrderEventsPublisher],
})
export class WebhooksModule {}
