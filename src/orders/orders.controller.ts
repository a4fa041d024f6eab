import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
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
export class OrdersController {
  constructor(
    private readonly orders: OrdersService,
    private readonly notice: NewOrdersNotice,
  ) {}

  /** 201 when created, 200 when the same order was sent before, 409 when the id holds another payload. */
  @Post()
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
  async createBatch(@Body() body: CreateOrdersBatchDto) {
    const results = await this.orders.create(body.orders);
    this.notice.created(results);
    const count = (outcome: string) => results.filter((r) => r.outcome === outcome).length;
    return { created: count('created'), existing: count('existing'), conflicts: count('conflict'), results };
  }

  @Get()
  list(@Query() query: ListOrdersQuery) {
    return this.orders.list(query);
  }

  @Get(':id')
  get(@Param('id') id: string) {
    return this.orders.get(id);
  }

  @Get(':id/events')
  events(@Param('id') id: string) {
    return this.orders.events(id);
  }
}
