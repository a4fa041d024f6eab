import { timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';

/** Internal REST and operator routes: `Authorization: Bearer <key>` with a key from API_KEYS. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly keys: Buffer[];

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.keys = config.apiKeys.map((key) => Buffer.from(key));
  }

  canActivate(context: ExecutionContext): boolean {
    const header = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>().headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) throw new UnauthorizedException('Authorization: Bearer <api key> is required');
    const given = Buffer.from(match[1] as string);
    // Compare against every key so the time taken does not tell which one nearly matched.
    let found = false;
    for (const key of this.keys) {
      if (key.length === given.length && timingSafeEqual(key, given)) found = true;
    }
    if (!found) throw new UnauthorizedException('the API key is not valid');
    return true;
  }
}
