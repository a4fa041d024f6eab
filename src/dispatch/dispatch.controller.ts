import { ApiBearerAuth } from '@nestjs/swagger';
import { ConflictException, Controller, HttpCode, Inject, Post, UseGuards } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { ApiKeyGuard } from '../auth/api-key.guard.js';
import { DispatchClaimsService } from '../orders/dispatch-claims.service.js';

@Controller('dispatch')
@UseGuards(ApiKeyGuard)
@ApiBearerAuth('api-key')
export class DispatchController {
  constructor(
    private readonly claims: DispatchClaimsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Claims every PENDING order now, without waiting for DISPATCH_CRON; answers how many. */
  @Post('run')
  @HttpCode(200)
  async run(): Promise<{ claimed: number }> {
    if (!this.config.dispatchEnabled) throw new ConflictException('dispatch is switched off (DISPATCH_ENABLED=false)');
    return { claimed: await this.claims.claimPending() };
  }
}
