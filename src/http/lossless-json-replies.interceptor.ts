import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { Observable } from 'rxjs';
import { stringifyLosslessJson } from '../common/lossless-json.js';

/**
 * Answers of these routes hold order payloads, whose numbers are LosslessNumbers: they are
 * written with their digits as they came (`167539019420540001`, not `167539019420540000`).
 * Only here: the lossless writer is slower than JSON.stringify, and other answers need none.
 */
@Injectable()
export class LosslessJsonReplies implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    // A serializer of one's own leaves the content type to the caller.
    context.switchToHttp().getResponse<FastifyReply>().serializer(stringifyLosslessJson).type('application/json; charset=utf-8');
    return next.handle();
  }
}
