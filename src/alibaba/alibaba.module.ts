import { Module } from '@nestjs/common';
import { AlibabaApiClient } from './alibaba-api.client.js';
import { AlibabaTokenService } from './alibaba-token.service.js';

/** The 1688 Open API client: signing, the shared access token, the fleet-wide rate limit, retries. */
@Module({
  providers: [AlibabaApiClient, AlibabaTokenService],
  exports: [AlibabaApiClient, AlibabaTokenService],
})
export class AlibabaModule {}
