import { Controller, Delete, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiNotFoundResponse, ApiOkResponse, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { DEAD_LETTER_PAGE_SCHEMA, ERROR_SCHEMA, QUEUES_SCHEMA } from '../docs/api-schemas.js';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { AdminKeyGuard, ApiKeyGuard } from '../auth/api-key.guard.js';
import { within } from '../common/with-timeout.js';
import { DeadLettersService } from './dead-letters.service.js';
import { QueueDepthService, type DepthSnapshot } from '../queues/queue-depth.service.js';

export class DeadLetterPageQuery {
  @ApiPropertyOptional({ minimum: 0, default: 0 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  offset?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: 1_000, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1_000)
  limit?: number;
}

const RETRIED = { schema: { type: 'object', properties: { retried: { type: 'string' } } } } as const;

@ApiTags('operations')
@Controller('queues')
export class QueuesController {
  constructor(
    private readonly depth: QueueDepthService,
    private readonly deadLetters: DeadLettersService,
  ) {}

  /** Backlog at a glance: every work and dead-letter queue, from a snapshot at most a few hundred ms old. */
  @Get()
  @ApiOkResponse({ description: 'every work and dead-letter queue (no key needed)', schema: QUEUES_SCHEMA })
  list(): Promise<DepthSnapshot> {
    return this.depth.depths();
  }

  @Get(':name/dead-letters')
  @UseGuards(ApiKeyGuard)
  @ApiBearerAuth('api-key')
  @ApiOkResponse({ schema: DEAD_LETTER_PAGE_SCHEMA })
  @ApiNotFoundResponse({ description: 'no such queue with dead letters', schema: ERROR_SCHEMA })
  listDeadLetters(@Param('name') name: string, @Query() page: DeadLetterPageQuery) {
    return within(this.deadLetters.list(name, page.offset ?? 0, page.limit ?? 100), 30_000, 'the dead-letter operation');
  }

  @Post(':name/dead-letters/retry-all')
  @UseGuards(AdminKeyGuard)
  @ApiBearerAuth('admin-key')
  @ApiOkResponse({
    schema: {
      type: 'object',
      properties: {
        retried: { type: 'integer' },
        failed: { type: 'array', items: { type: 'object', properties: { jobId: { type: 'string' }, reason: { type: 'string' } } } },
      },
    },
  })
  @ApiForbiddenResponse({ description: 'a client key: this needs ADMIN_API_KEYS', schema: ERROR_SCHEMA })
  @HttpCode(200)
  retryAll(@Param('name') name: string) {
    return within(this.deadLetters.retryAll(name), 30_000, 'the dead-letter operation');
  }

  @Post(':name/dead-letters/:jobId/retry')
  @UseGuards(AdminKeyGuard)
  @ApiBearerAuth('admin-key')
  @ApiOkResponse(RETRIED)
  @ApiForbiddenResponse({ description: 'a client key: this needs ADMIN_API_KEYS', schema: ERROR_SCHEMA })
  @HttpCode(200)
  retry(@Param('name') name: string, @Param('jobId') jobId: string) {
    return within(this.deadLetters.retry(name, jobId), 30_000, 'the dead-letter operation');
  }

  @Delete(':name/dead-letters/:jobId')
  @UseGuards(AdminKeyGuard)
  @ApiBearerAuth('admin-key')
  @ApiOkResponse({ schema: { type: 'object', properties: { deleted: { type: 'string' } } } })
  @ApiForbiddenResponse({ description: 'a client key: this needs ADMIN_API_KEYS', schema: ERROR_SCHEMA })
  @ApiNotFoundResponse({ schema: ERROR_SCHEMA })
  remove(@Param('name') name: string, @Param('jobId') jobId: string) {
    return within(this.deadLetters.remove(name, jobId), 30_000, 'the dead-letter operation');
  }
}
