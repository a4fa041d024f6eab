import { ValidationPipe } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseJsonBody } from '../common/json-body.js';
import { LogThrottle } from '../common/log-throttle.js';
import type { AppConfig } from '../config/app-config.js';
import { dashboardAuth } from '../dashboard/dashboard-auth.js';
import { DASHBOARD_ROUTE } from '../dashboard/dashboard.module.js';
import { requestContext } from '../logging/request-context.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { requestSpan, tracingOn } from '../telemetry/tracing.js';
import { DatabaseUnavailableFilter } from './database-unavailable.filter.js';

/** Why a webhook was turned away, by the status it got (for the rejected-messages counter). */
const WEBHOOK_REJECTION: Record<number, string> = {
  400: 'invalid',
  401: 'signature',
  408: 'timeout',
  413: 'too_large',
  415: 'content_type',
  503: 'unavailable',
};

/** Routes whose JSON bodies keep every digit of their numbers (order payloads). */
const LOSSLESS_ROUTES = /^\/orders(?:\/|$)/;

export function configureHttp(app: NestFastifyApplication, config: Pick<AppConfig, 'bodyLimitBytes' | 'apiKeys' | 'adminApiKeys'>): void {
  // Form bodies are only 1688 pushes, whose guard reads the raw bytes: parsing them here too
  // would be wasted work on the hottest route.
  app.useBodyParser('application/x-www-form-urlencoded', { bodyLimit: config.bodyLimitBytes }, (_request, body, done) => done(null, body));
  // JSON nested too deep would overflow the stack of the validation that walks it: a 400 first.
  app.useBodyParser('application/json', { bodyLimit: config.bodyLimitBytes }, (request: FastifyRequest, body, done) => {
    const parsed = parseJsonBody(body, { lossless: LOSSLESS_ROUTES.test(request.routeOptions.url ?? '') });
    if (parsed.error) done(parsed.error, undefined);
    else done(null, parsed.value);
  });
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true, forbidUnknownValues: true }));
  app.useGlobalFilters(new DatabaseUnavailableFilter(app.get(HttpAdapterHost).httpAdapter));

  const fastify = app.getHttpAdapter().getInstance();
  const metrics = app.get(MetricsService);
  // Everything logged while serving a request carries its id (also sent back as X-Request-Id).
  const spans = new WeakMap<FastifyRequest, { end(status: number): void }>();
  fastify.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    reply.header('x-request-id', request.id);
    requestContext.run({ reqId: String(request.id) }, () => {
      if (!tracingOn()) return done();
      spans.set(request, requestSpan(request.method, request.routeOptions.url ?? 'unmatched', request.headers, done));
    });
  });
  // The dashboard's pages and its API alike (a Nest middleware would guard only the first).
  const guardDashboard = dashboardAuth(config);
  fastify.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    // By the route matched, so that no spelling of the URL (%-encoding, double slashes) slips past.
    const route = request.routeOptions.url ?? '';
    if (route !== DASHBOARD_ROUTE && !route.startsWith(`${DASHBOARD_ROUTE}/`)) return done();
    guardDashboard(request.raw, reply.raw, done);
  });
  const failedRequestLogs = new LogThrottle();
  fastify.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    spans.get(request)?.end(status);
    metrics.httpDuration.observe({ method: request.method, route, status_code: String(status) }, reply.elapsedTime / 1000);
    if (route.startsWith('/webhooks/') && status >= 400) {
      metrics.webhookMessages.inc({
        source: route === '/webhooks/1688' ? '1688' : 'orders',
        outcome: 'rejected',
        reason: WEBHOOK_REJECTION[status] ?? String(status),
      });
    }
    // The path only: 1688 may send `message` and `_aop_signature` in the query string.
    const line = { method: request.method, route, url: request.url.split('?')[0], status, ms: Math.round(reply.elapsedTime) };
    if (status >= 500) {
      // An outage fails every request alike: one line per route and status every 10 s, with the count.
      const logged = failedRequestLogs.take(`${status} ${request.method} ${route}`);
      if (logged) fastify.log.error(logged.suppressed > 0 ? { ...line, suppressedSinceLast: logged.suppressed } : line, 'request failed');
    } else fastify.log.debug(line, 'request');
    done();
  });
}
