import { ApiBearerAuth } from '@nestjs/swagger';
import { Body, ConflictException, Controller, Get, HttpCode, Logger, Param, Post, Query, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ApiKeyGuard } from '../auth/api-key.guard.js';
import { CreateOrderDto, CreateOrdersBatchDto } from './dto/create-order.dto.js';
import { ListOrdersQuery } from './dto/list-orders.query.js';
import { DispatchClaimsService } from './dispatch-claims.service.js';
import { OrdersService, type CreateResult } from './orders.service.js';

@Controller('orders')
@UseGuards(ApiKeyGuard)
@ApiBearerAuth('api-key')
export class OrdersController {
  private readonly logger = new Logger(OrdersController.name);

  constructor(
    private readonly orders: OrdersService,
    private readonly claims: DispatchClaimsService,
  ) {}

  /** 201 when created, 200 when the same order was sent before, 409 when the id holds another payload. */
  @Post()
  async create(@Body() body: CreateOrderDto, @Res({ passthrough: true }) reply: FastifyReply) {
    const [result] = await this.orders.create([body]);
    if (!result) throw new Error('create returned no result');
    this.dispatchSoon([result]);
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
    this.dispatchSoon(results);
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

  /**
   * New orders are claimed and queued for dispatch right away, without holding the answer:
   * the order is stored either way, and if this fails the schedule (or lease recovery) sends it.
   */
  private dispatchSoon(results: CreateResult[]): void {
    const created = results.filter((result) => result.outcome === 'created').map((result) => result.id);
    if (created.length === 0) return;
    this.claims.claimIds(created).catch((error: Error) => {
      this.logger.warn({ msg: 'immediate dispatch failed; the schedule will send these orders', count: created.length, err: error.message });
    });
  }
}
