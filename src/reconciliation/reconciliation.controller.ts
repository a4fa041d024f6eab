import { Controller, ConflictException, Get, HttpCode, Inject, Post, UseGuards } from '@nestjs/common';
import {
  type SchemaObject,
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiForbiddenResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import { AdminKeyGuard, ApiKeyGuard } from '../auth/api-key.guard.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/app-config.module.js';
import { within } from '../common/with-timeout.js';
import { ERROR_SCHEMA } from '../docs/api-schemas.js';
import { ReconciliationService } from './reconciliation.service.js';

const RUN_SCHEMA: SchemaObject = {
  type: 'object',
  nullable: true,
  properties: {
    id: { type: 'string' },
    kind: { type: 'string', enum: ['pull', 'sweep'] },
    trigger: { type: 'string', enum: ['schedule', 'manual'] },
    startedAt: { type: 'string', format: 'date-time' },
    finishedAt: { type: 'string', format: 'date-time', nullable: true },
    outcome: { type: 'string', enum: ['ok', 'failed'], nullable: true },
    windowFrom: { type: 'string', format: 'date-time' },
    windowTo: { type: 'string', format: 'date-time' },
    counts: {
      type: 'object',
      description:
        'pull: pages, pulled, confirmed, unreadable, unconfirmable; sweep: pages, slices (creation-time ranges read at once), examined, drifted (repairs queued), unknown, staleRead',
    },
    error: { type: 'string', nullable: true },
  },
};
const KIND_SCHEMA: SchemaObject = {
  type: 'object',
  properties: { last: RUN_SCHEMA, lastFailed: RUN_SCHEMA, watermark: { type: 'string', nullable: true }, schedule: { type: 'string' } },
};

@ApiTags('operations')
@Controller('reconciliation')
export class ReconciliationController {
  constructor(
    private readonly reconciliation: ReconciliationService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get()
  @UseGuards(ApiKeyGuard)
  @ApiBearerAuth('api-key')
  @ApiOkResponse({
    description: 'the last pull and sweep, the watermarks, and the age of the newest push received',
    schema: {
      type: 'object',
      properties: {
        enabled: { type: 'boolean' },
        pull: KIND_SCHEMA,
        sweep: KIND_SCHEMA,
        newestPushReceivedAt: { type: 'string', nullable: true },
        newestPushAgeMs: { type: 'integer', nullable: true },
        oldestUnconfirmedAgeMs: { type: 'integer', nullable: true },
      },
    },
  })
  view() {
    return this.reconciliation.view();
  }

  /** A pull and a sweep now, without waiting for PUSH_PULL_CRON / RECONCILE_CRON. */
  @Post('run')
  @HttpCode(202)
  @UseGuards(AdminKeyGuard)
  @ApiBearerAuth('admin-key')
  @ApiAcceptedResponse({
    description: 'queued',
    schema: { type: 'object', properties: { queued: { type: 'array', items: { type: 'string' } } } },
  })
  @ApiForbiddenResponse({ description: 'a client key: this needs ADMIN_API_KEYS', schema: ERROR_SCHEMA })
  @ApiConflictResponse({ description: 'pulling and sweeping are off (ALIBABA_SYNC_ENABLED, or development secrets)', schema: ERROR_SCHEMA })
  run() {
    if (!this.config.alibabaSyncEnabled)
      throw new ConflictException(
        'pulling from and sweeping against 1688 are off (ALIBABA_SYNC_ENABLED=false, or development secrets against the real gateway)',
      );
    return within(this.reconciliation.runNow(), 10_000, 'queueing a pull and a sweep');
  }
}
