import { BadRequestException, Body, Controller, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { ApplyMessageJob } from '../queues/order-events.queue.js';
import { parse1688Message } from './alibaba-message.js';
import { AlibabaSignatureGuard, type AlibabaPushRequest } from './alibaba-signature.guard.js';
import { GenericOrderEventDto } from './dto/generic-order-event.dto.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { OrderEventsPublisher } from './order-events.publisher.js';
import { WebhookSignatureGuard } from './webhook-signature.guard.js';

/** Verifies, validates and queues; applying is the orders module's work. Answers 2xx only once Redis holds the message. */
@Controller('webhooks')
export class WebhooksController {
  constructor(
    private readonly publisher: OrderEventsPublisher,
    private readonly metrics: MetricsService,
  ) {}

  @Post('1688')
  @HttpCode(200)
  @UseGuards(AlibabaSignatureGuard)
  async receive1688(@Req() request: AlibabaPushRequest) {
    const message = request.alibabaParams?.get('message');
    if (message === undefined || message.trim() === '') throw new BadRequestException('message is required');
    const job = parse1688Message(message, new Date());
    await this.publisher.publish(job);
    this.metrics.webhookMessages.inc({ source: '1688', outcome: 'accepted', reason: job.ignoredReason ? 'topic_not_acted_on' : '' });
    return { success: true, msgId: job.messageId };
  }

  @Post('orders')
  @HttpCode(200)
  @UseGuards(WebhookSignatureGuard)
  async receiveGeneric(@Body() event: GenericOrderEventDto, @Req() request: FastifyRequest & { rawBody?: Buffer }) {
    const occurredAt = new Date(event.occurredAt);
    const job: ApplyMessageJob = {
      source: 'orders',
      messageId: event.eventId,
      topic: 'ORDER_STATUS',
      receivedAt: new Date().toISOString(),
      body: request.rawBody?.toString('utf8') ?? JSON.stringify(event),
      changes: [
        {
          orderId: event.orderId,
          supplierOrderId: event.supplierOrderId ?? null,
          status: event.status,
          occurredAt: occurredAt.toISOString(),
          bornAt: occurredAt.getTime(),
        },
      ],
      ignoredReason: null,
    };
    await this.publisher.publish(job);
    this.metrics.webhookMessages.inc({ source: 'orders', outcome: 'accepted', reason: '' });
    return { success: true, eventId: event.eventId };
  }
}
