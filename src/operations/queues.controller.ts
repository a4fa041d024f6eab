import { Controller, Delete, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { AdminKeyGuard, ApiKeyGuard } from '../auth/api-key.guard.js';
import { DeadLettersService } from './dead-letters.service.js';
import { QueueDepthService, type DepthSnapshot } from '../queues/queue-depth.service.js';

export class DeadLetterPageQuery {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  offset?: number;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1_000)
  limit?: number;
}

@Controller('queues')
export class QueuesController {
  constructor(
    private readonly depth: QueueDepthService,
    private readonly deadLetters: DeadLettersService,
  ) {}

  /** Backlog at a glance: every work and dead-letter queue, from a snapshot at most a few hundred ms old. */
  @Get()
  list(): Promise<DepthSnapshot> {
    return this.depth.depths();
  }

  @Get(':name/dead-letters')
  @UseGuards(ApiKeyGuard)
  listDeadLetters(@Param('name') name: string, @Query() page: DeadLetterPageQuery) {
    return this.deadLetters.list(name, page.offset ?? 0, page.limit ?? 100);
  }

  @Post(':name/dead-letters/retry-all')
  @UseGuards(AdminKeyGuard)
  @HttpCode(200)
  retryAll(@Param('name') name: string) {
    return this.deadLetters.retryAll(name);
  }

  @Post(':name/dead-letters/:jobId/retry')
  @UseGuards(AdminKeyGuard)
  @HttpCode(200)
  retry(@Param('name') name: string, @Param('jobId') jobId: string) {
    return this.deadLetters.retry(name, jobId);
  }

  @Delete(':name/dead-letters/:jobId')
  @UseGuards(AdminKeyGuard)
  remove(@Param('name') name: string, @Param('jobId') jobId: string) {
    return this.deadLetters.remove(name, jobId);
  }
}
