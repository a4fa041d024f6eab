import {
  BadRequestException,
  Inject,
  Injectable,
  UnauthorizedException,
  UnsupportedMediaTypeException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/app-config.module.js';
import { aopSignature } from '../alibaba/aop-signature.js';
import { hexSignaturesMatch } from './signatures.js';

export type AlibabaPushRequest = FastifyRequest & { rawBody?: Buffer; alibabaParams?: Map<string, string> };

/**
 * Checks a 1688 push's `_aop_signature` over every parameter, from the query string and the
 * form body together as 1688's own receiver does, on the bytes as they came.
 */
@Injectable()
export class AlibabaSignatureGuard implements CanActivate {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<AlibabaPushRequest>();
    const contentType = String(request.headers['content-type'] ?? '')
      .split(';')[0]
      ?.trim()
      .toLowerCase();
    if (contentType !== 'application/x-www-form-urlencoded') {
      throw new UnsupportedMediaTypeException('1688 pushes must be application/x-www-form-urlencoded');
    }
    const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
    const pairs = [...new URLSearchParams(query), ...new URLSearchParams(request.rawBody?.toString('utf8') ?? '')];

    const signatures = pairs.filter(([key]) => key === '_aop_signature');
    if (signatures.length === 0) throw new UnauthorizedException('_aop_signature is missing');
    if (signatures.length > 1) throw new UnauthorizedException('_aop_signature is given more than once');
    if (!hexSignaturesMatch(aopSignature(this.config.alibabaAppSecret, pairs), signatures[0]?.[1] ?? '')) {
      throw new UnauthorizedException('_aop_signature does not match the message');
    }

    const params = new Map<string, string>();
    for (const [key, value] of pairs) {
      if (params.has(key)) throw new BadRequestException(`parameter ${key} is given more than once`);
      params.set(key, value);
    }
    request.alibabaParams = params;
    return true;
  }
}
