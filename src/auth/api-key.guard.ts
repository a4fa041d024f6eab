import { ForbiddenException, Inject, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/app-config.module.js';
import { KeyRing, bearerKey, type KeyRole } from './key-ring.js';

function checkKey(context: ExecutionContext, keys: KeyRing, needed: KeyRole): true {
  const header = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>().headers.authorization;
  const key = bearerKey(header);
  if (!key) throw new UnauthorizedException('Authorization: Bearer <api key> is required');
  const role = keys.roleOf(key);
  if (!role) throw new UnauthorizedException('the API key is not valid');
  if (needed === 'admin' && role !== 'admin') throw new ForbiddenException('this needs a key from ADMIN_API_KEYS');
  return true;
}

/** Internal REST routes: `Authorization: Bearer <key>` with a key from API_KEYS or ADMIN_API_KEYS. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly keys: KeyRing;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.keys = new KeyRing(config);
  }

  canActivate(context: ExecutionContext): boolean {
    return checkKey(context, this.keys, 'client');
  }
}

/** Operator actions (re-drive or delete dead letters, run dispatch or a reconciliation now): ADMIN_API_KEYS only; 403 for a client key. */
@Injectable()
export class AdminKeyGuard implements CanActivate {
  private readonly keys: KeyRing;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.keys = new KeyRing(config);
  }

  canActivate(context: ExecutionContext): boolean {
    return checkKey(context, this.keys, 'admin');
  }
}
