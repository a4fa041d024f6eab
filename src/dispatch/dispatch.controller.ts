import { ApiBearerAuth, ApiConflictResponse, ApiForbiddenResponse, ApiOkResponse, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { within } from '../common/with-timeout.js';
import { ERROR_SCHEMA } from '../docs/api-schemas.js';

/** Longest a request waits for work that needs Redis. */
const REQUEST_WORK_MS = 10_000;
import { ConflictException, Controller, HttpCode, Inject, Post, UseGuards } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/app-config.module.js';
import { AdminKeyGuard } from '../auth/api-key.guard.js';
import { DispatchClaimsService } from './dispatch-claims.service.js';

@ApiTags('operations')
@Controller('dispatch')
@UseGuards(AdminKeyGuard)
@ApiBearerAuth('admin-key')
export class DispatchController {
  constructor(
    private readonly claims: DispatchClaimsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Claims every PENDING order now, without waiting for DISPATCH_CRON; answers how many. */
  @Post('run')
  @HttpCode(200)
  @ApiOkResponse({
    description: 'orders claimed and queued for dispatch',
    schema: { type: 'object', properties: { claimed: { type: 'integer' } }, example: { claimed: 12 } },
  })
  @ApiUnauthorizedResponse({ schema: ERROR_SCHEMA })
  @ApiForbiddenResponse({ description: 'a client key: this needs ADMIN_API_KEYS', schema: ERROR_SCHEMA })
  @ApiConflictResponse({ description: 'DISPATCH_ENABLED=false', schema: ERROR_SCHEMA })
  async run(): Promise<{ claimed: number }> {
    if (!this.config.dispatchEnabled) throw new ConflictException('dispatch is switched off (DISPATCH_ENABLED=false)');
    return { claimed: await within(this.claims.claimPending(), REQUEST_WORK_MS, 'claiming PENDING orders') };
  }
}
