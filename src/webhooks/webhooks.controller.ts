import { applyDecorators, BadRequestException, Body, Controller, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiHeader, ApiOkResponse, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import type { InboundMessage } from '../queues/order-events.queue.js';
import { parseAlibabaMessage } from './alibaba-message.js';
import { AlibabaSignatureGuard, type AlibabaPushRequest } from './alibaba-signature.guard.js';
import { GenericOrderEventDto } from './dto/generic-order-event.dto.js';
import { parseGenericOrderEvent } from './generic-order-event.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { OrderEventsPublisher } from './order-events.publisher.js';
import { WebhookSignatureGuard } from './webhook-signature.guard.js';

/** The answers both webhooks give; 1688 re-sends anything but a 2xx. */
const WebhookErrorAnswers = () =>
  applyDecorators(
    ApiResponse({ status: 400, description: 'the message is not what the contract describes (JSON error body says what)' }),
    ApiResponse({ status: 401, description: 'signature missing or wrong (or, for /webhooks/orders, timestamp outside 300 s)' }),
    ApiResponse({ status: 413, description: 'body over BODY_LIMIT_BYTES' }),
    ApiResponse({ status: 415, description: 'wrong content type' }),
    ApiResponse({ status: 503, description: 'the message could not be queued durably (Redis away): send it again' }),
  );

/** Verifies, validates and queues; applying is the orders module's work. Answers 2xx only once Redis holds the message. */
@ApiTags('webhooks')
@Controller('webhooks')
export class WebhooksController {
  constructor(
    private readonly publisher: OrderEventsPublisher,
    private readonly metrics: MetricsService,
  ) {}

  @Post('1688')
  @HttpCode(200)
  @ApiConsumes('application/x-www-form-urlencoded')
  @ApiBody({
    description:
      '1688\'s push: `message` (JSON text) and `_aop_signature` (HMAC-SHA1 hex of "message" + message with the app secret); parameters may also come in the query string',
    schema: {
      type: 'object',
      required: ['message', '_aop_signature'],
      properties: { message: { type: 'string' }, _aop_signature: { type: 'string' } },
    },
  })
  @ApiOkResponse({
    description: 'queued durably (duplicates and topics not acted on included)',
    schema: { example: { success: true, msgId: '123' } },
  })
  @WebhookErrorAnswers()
  @UseGuards(AlibabaSignatureGuard)
  async receive1688(@Req() request: AlibabaPushRequest) {
    const message = request.alibabaParams?.get('message');
    if (message === undefined || message.trim() === '') throw new BadRequestException('message is required');
    const job = parseAlibabaMessage(message, new Date());
    await this.publisher.publish(job);
    this.metrics.webhookMessages.inc({ source: '1688', outcome: 'accepted', reason: job.ignoredReason ? 'topic_not_acted_on' : '' });
    return { success: true, msgId: job.messageId };
  }

  @Post('orders')
  @HttpCode(200)
  @ApiHeader({ name: 'X-Webhook-Timestamp', description: 'unix seconds; more than 300 s from now is refused', required: true })
  @ApiHeader({
    name: 'X-Webhook-Signature',
    description: 'sha256=<hex HMAC-SHA256(WEBHOOK_SECRET, timestamp + "." + raw body)>',
    required: true,
  })
  @ApiOkResponse({ description: 'queued durably', schema: { example: { success: true, eventId: 'evt-1' } } })
  @WebhookErrorAnswers()
  @UseGuards(WebhookSignatureGuard)
  // The DTO documents the body; the hand check validates it (no class-validator on the hot path).
  @ApiBody({ type: GenericOrderEventDto })
  async receiveGeneric(@Body() body: unknown, @Req() request: FastifyRequest & { rawBody?: Buffer }) {
    const event = parseGenericOrderEvent(body);
    const occurredAt = new Date(event.occurredAtMs);
    const job: InboundMessage = {
      source: 'orders',
      messageId: event.eventId,
      topic: 'ORDER_STATUS',
      receivedAt: new Date().toISOString(),
      body: request.rawBody?.toString('utf8') ?? JSON.stringify(event),
      changes: [
        {
          orderId: event.orderId,
          supplierOrderId: event.supplierOrderId,
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
