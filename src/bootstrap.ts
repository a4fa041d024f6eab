import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { ValidationPipe, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import { AppModule } from './app.module.js';
import type { AppConfig } from './config/app-config.js';
import { prepareDatabase } from './database/migrate.js';
import { PinoNestLogger, createPino } from './logging/logger.js';
import { requestContext } from './logging/request-context.js';
import { MetricsService } from './metrics/metrics.service.js';
import { parseJsonBody } from './common/json-body.js';
import { dashboardAuth } from './dashboard/dashboard-auth.js';
import { DASHBOARD_ROUTE } from './dashboard/dashboard.module.js';
import { setupApiDocs } from './docs/api-docs.js';
import { ShutdownState } from './health/shutdown-state.js';
import { WorkerRegistry } from './queues/worker-registry.js';

export function createLogger(config: Pick<AppConfig, 'logLevel'>): PinoNestLogger {
  return new PinoNestLogger(createPino(config));
}

/** Why a webhook was turned away, by the status it got (for the rejected-messages counter). */
const WEBHOOK_REJECTION: Record<number, string> = { 400: 'invalid', 401: 'signature', 413: 'too_large', 415: 'content_type', 503: 'unavailable' };

export function configureHttp(app: NestFastifyApplication, config: Pick<AppConfig, 'bodyLimitBytes' | 'apiKeys'>): void {
  // Form bodies are only 1688 pushes, whose guard reads the raw bytes: parsing them here too
  // would be wasted work on the hottest route.
  app.useBodyParser('application/x-www-form-urlencoded', { bodyLimit: config.bodyLimitBytes }, (_request, body, done) => done(null, body));
  // JSON nested too deep would overflow the stack of the validation that walks it: a 400 first.
  app.useBodyParser('application/json', { bodyLimit: config.bodyLimitBytes }, (_request, body, done) => {
    const parsed = parseJsonBody(body as Buffer);
    if (parsed.error) done(parsed.error, undefined);
    else done(null, parsed.value);
  });
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true, forbidUnknownValues: true }));

  const fastify = app.getHttpAdapter().getInstance();
  const metrics = app.get(MetricsService);
  // Everything logged while serving a request carries its id (also sent back as X-Request-Id).
  fastify.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    reply.header('x-request-id', request.id);
    requestContext.run({ reqId: String(request.id) }, done);
  });
  // The dashboard's pages and its API alike (a Nest middleware would guard only the first).
  const guardDashboard = dashboardAuth(config.apiKeys);
  fastify.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    // By the route matched, so that no spelling of the URL (%-encoding, double slashes) slips past.
    const route = request.routeOptions.url ?? '';
    if (route !== DASHBOARD_ROUTE && !route.startsWith(`${DASHBOARD_ROUTE}/`)) return done();
    guardDashboard(request.raw, reply.raw, done);
  });
  fastify.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    metrics.httpDuration.observe({ method: request.method, route, status_code: String(status) }, reply.elapsedTime / 1000);
    if (route.startsWith('/webhooks/') && status >= 400) {
      metrics.webhookMessages.inc({ source: route === '/webhooks/1688' ? '1688' : 'orders', outcome: 'rejected', reason: WEBHOOK_REJECTION[status] ?? String(status) });
    }
    if (status >= 500) fastify.log.error({ method: request.method, url: request.url, status, ms: Math.round(reply.elapsedTime) }, 'request failed');
    else fastify.log.debug({ method: request.method, url: request.url, status, ms: Math.round(reply.elapsedTime) }, 'request');
    done();
  });
}

export interface RunningService {
  app: INestApplicationContext;
  /** The HTTP port, when this role serves HTTP. */
  port: number | null;
  close(): Promise<void>;
}

/**
 * Starts one instance in the configured role: the database is created and migrated before
 * anything serves. The worker role opens no HTTP port, unless WORKER_HTTP_PORT asks for a
 * small one with /health and /metrics only.
 */
export async function startService(config: AppConfig, logger = createLogger(config)): Promise<RunningService> {
  const migrations = await prepareDatabase(config);
  if (migrations.length > 0) logger.log({ msg: 'migrations applied', migrations });

  if (config.role === 'worker' && config.workerHttpPort === 0) {
    const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger });
    await app.init();
    const close = async () => {
      await app.get(WorkerRegistry).forceCloseIfRedisAway(config.redisUrl);
      await app.close();
    };
    return { app, port: null, close };
  }

  const adapter = new FastifyAdapter({
    bodyLimit: config.bodyLimitBytes,
    return503OnClosing: true,
    loggerInstance: logger.pino,
    // One line per failed request from our own hook, not two per request from Fastify.
    logController: new LogController({ disableRequestLogging: true }),
    // A request Node cannot even parse (headers too large, say) gets its 4xx and the connection
    // is closed, saying so, so that a keep-alive client does not reuse a dead socket.
    clientErrorHandler: (error: Error & { code?: string }, socket: Socket) => {
      if (!socket.writable) return socket.destroy();
      const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      const body = JSON.stringify({ statusCode: status, error: STATUS_CODES[status], message: `the request could not be read: ${error.code ?? error.message}` });
      socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    },
    genReqId: (request: IncomingMessage) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,128}$/.test(given) ? given : randomUUID();
    },
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, { rawBody: true, logger });
  configureHttp(app, config);
  if (config.role !== 'worker') setupApiDocs(app);
  const port = config.role === 'worker' ? config.workerHttpPort : config.port;
  // A deep accept queue: 1688 and bursts open many connections at once, and an overflowing
  // queue resets them.
  await app.listen({ port, host: '0.0.0.0', backlog: 4096 });
  const address = app.getHttpServer().address();
  const close = async () => {
    // Readiness down first, then no new requests (in-flight ones finish), then workers and connections.
    app.get(ShutdownState, { strict: false }).draining = true;
    if (config.shutdownReadyDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, config.shutdownReadyDelayMs));
    await app.getHttpAdapter().getInstance().close();
    await app.get(WorkerRegistry).forceCloseIfRedisAway(config.redisUrl);
    await app.close();
  };
  return { app, port: typeof address === 'object' && address ? address.port : port, close };
}
