import { Catch, HttpStatus, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import type { FastifyReply } from 'fastify';
import { isPostgresUnavailable } from '../queues/infrastructure-errors.js';

/** Seconds a client is asked to wait before trying again while the database is away. */
const RETRY_AFTER_S = 5;

/**
 * A request that needed Postgres while it is away gets a 503 that says so (with Retry-After),
 * not a 500: nothing is wrong with the request, and the same call will work once it is back.
 * Every other error goes on to Nest's own handling.
 */
@Catch()
export class DatabaseUnavailableFilter extends BaseExceptionFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    if (!isPostgresUnavailable(exception) || (exception as { getStatus?: unknown }).getStatus) return super.catch(exception, host);
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    void reply
      .status(HttpStatus.SERVICE_UNAVAILABLE)
      .header('retry-after', String(RETRY_AFTER_S))
      .send({ statusCode: 503, error: 'Service Unavailable', message: 'the database is unavailable right now; try again shortly' });
  }
}
