import {
  ApiBearerAuth,
  ApiBody,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiParam,
  ApiResponse,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { BATCH_RESULT_SCHEMA, ERROR_SCHEMA, HISTORY_SCHEMA, ORDER_PAGE_SCHEMA, ORDER_SCHEMA } from '../docs/api-schemas.js';
import { Body, ConflictException, Controller, Get, HttpCode, Param, Post, Query, Res, UseGuards, UseInterceptors } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ApiKeyGuard } from '../auth/api-key.guard.js';
import { LosslessJsonReplies } from '../http/lossless-json-replies.interceptor.js';
import { CreateOrderDto, CreateOrdersBatchDto } from './dto/create-order.dto.js';
import { ListOrdersQuery } from './dto/list-orders.query.js';
import { NewOrdersNotice } from './new-orders-notice.js';
import { OrdersService } from './orders.service.js';

@ApiTags('orders')
@Controller('orders')
@UseGuards(ApiKeyGuard)
@UseInterceptors(LosslessJsonReplies)
@ApiBearerAuth('api-key')
@ApiUnauthorizedResponse({ description: 'no key, or not a key from API_KEYS / ADMIN_API_KEYS', schema: ERROR_SCHEMA })
@ApiResponse({ status: 400, description: 'invalid input; the body says what', schema: ERROR_SCHEMA })
@ApiResponse({ status: 503, description: 'the database is unavailable right now (Retry-After)', schema: ERROR_SCHEMA })
export class OrdersController {
  constructor(
    private readonly orders: OrdersService,
    private readonly notice: NewOrdersNotice,
  ) {}

  /** 201 when created, 200 when the same order was sent before, 409 when the id holds another payload. */
  @Post()
  @ApiCreatedResponse({ description: 'created, PENDING', schema: ORDER_SCHEMA })
  @ApiOkResponse({ description: 'the same id with the same payload was created before: that order', schema: ORDER_SCHEMA })
  @ApiConflictResponse({ description: 'the id holds another payload', schema: ERROR_SCHEMA })
  @ApiResponse({ status: 413, description: 'payload over 64 KiB', schema: ERROR_SCHEMA })
  async create(@Body() body: CreateOrderDto, @Res({ passthrough: true }) reply: FastifyReply) {
    const [result] = await this.orders.create([body]);
    if (!result) throw new Error('create returned no result');
    this.notice.created([result]);
    if (result.outcome === 'conflict') {
      throw new ConflictException(`order "${body.id}" already exists with a different payload`);
    }
    reply.status(result.outcome === 'created' ? 201 : 200);
    return result.order;
  }

  /** Up to 1,000 orders; each gets its own outcome (created, existing or conflict). */
  @Post('batch')
  @HttpCode(200)
  @ApiBody({ type: CreateOrdersBatchDto })
  @ApiOkResponse({ description: 'an outcome per order', schema: BATCH_RESULT_SCHEMA })
  async createBatch(@Body() body: CreateOrdersBatchDto) {
    const results = await this.orders.create(body.orders);
    this.notice.created(results);
    const count = (outcome: string) => results.filter((r) => r.outcome === outcome).length;
    return { created: count('created'), existing: count('existing'), conflicts: count('conflict'), results };
  }

  @Get()
  @ApiOkResponse({ description: 'a page, oldest first (created_at, id); stable while orders are added', schema: ORDER_PAGE_SCHEMA })
  list(@Query() query: ListOrdersQuery) {
    return this.orders.list(query);
  }

  @Get(':id')
  @ApiParam({ name: 'id', description: 'the order id (1 to 128 characters), percent-encoded in the path' })
  @ApiOkResponse({ schema: ORDER_SCHEMA })
  @ApiNotFoundResponse({ schema: ERROR_SCHEMA })
  get(@Param('id') id: string) {
    return this.orders.get(id);
  }

  @Get(':id/events')
  @ApiParam({ name: 'id', description: 'the order id, percent-encoded in the path' })
  @ApiOkResponse({
    description: 'every status change and every message that touched the order, applied or ignored',
    schema: HISTORY_SCHEMA,
  })
  @ApiNotFoundResponse({ schema: ERROR_SCHEMA })
  events(@Param('id') id: string) {
    return this.orders.events(id);
  }
}
