import { Inject, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/app-config.module.js';
import { GENERIC_WEBHOOK_TOLERANCE_S, hexSignaturesMatch, signGenericWebhook } from './signatures.js';

/** `X-Webhook-Signature: sha256=<hex>` over `timestamp.rawBody`, refusing stale timestamps (replays). */
@Injectable()
export class WebhookSignatureGuard implements CanActivate {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest & { rawBody?: Buffer }>();
    const timestamp = request.headers['x-webhook-timestamp'];
    const signature = request.headers['x-webhook-signature'];
    if (typeof timestamp !== 'string' || !/^\d{1,12}$/.test(timestamp)) {
      throw new UnauthorizedException('X-Webhook-Timestamp must be unix seconds');
    }
    if (Math.abs(Date.now() / 1000 - Number(timestamp)) > GENERIC_WEBHOOK_TOLERANCE_S) {
      throw new UnauthorizedException(`X-Webhook-Timestamp is more than ${GENERIC_WEBHOOK_TOLERANCE_S} s from now (replay refused)`);
    }
    const match = typeof signature === 'string' ? /^sha256=([0-9a-fA-F]+)$/.exec(signature) : null;
    if (!match) throw new UnauthorizedException('X-Webhook-Signature must be sha256=<hex>');
    const expected = signGenericWebhook(this.config.webhookSecret, timestamp, request.rawBody ?? Buffer.alloc(0));
    if (!hexSignaturesMatch(expected, match[1])) throw new UnauthorizedException('X-Webhook-Signature does not match the body');
    return true;
  }
}
