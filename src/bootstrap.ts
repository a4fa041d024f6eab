import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module.js';
import type { AppConfig } from './config/app-config.js';
import { prepareDatabase } from './database/migrate.js';
import { setupApiDocs } from './docs/api-docs.js';
import { ShutdownState } from './health/shutdown-state.js';
import { configureHttp } from './http/configure-http.js';
import { createHttpAdapter } from './http/http-adapter.js';
import { PinoNestLogger, createPino } from './logging/logger.js';
import { checkRedisDurability } from './queues/redis-durability.js';
import { WorkerRegistry } from './queues/worker-registry.js';

export function createLogger(config: Pick<AppConfig, 'logLevel'> & Partial<Pick<AppConfig, 'logFormat'>>): PinoNestLogger {
  return new PinoNestLogger(createPino(config));
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
  await checkRedisDurability(config, logger);
  const migrations = await prepareDatabase(config);
  if (migrations.length > 0) logger.log({ msg: 'migrations applied', migrations });

  if (config.role === 'worker' && config.workerHttpPort === 0) {
    const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger });
    await app.init();
    const close = async () => {
      await app.get(WorkerRegistry).forceCloseIfRedisAway(config);
      await app.close();
    };
    return { app, port: null, close };
  }

  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), createHttpAdapter(config, logger), {
    rawBody: true,
    logger,
  });
  configureHttp(app, config);
  if (config.role !== 'worker') setupApiDocs(app);
  const port = config.role === 'worker' ? config.workerHttpPort : config.port;
  // A deep accept queue: 1688 and bursts open many connections at once, and an overflowing
  // queue resets them.
  await app.listen({ port, host: '0.0.0.0', backlog: 4096 });
  const server = app.getHttpServer();
  // Headers too must come within REQUEST_TIMEOUT_MS (Node's own default is 60 s).
  server.headersTimeout = config.requestTimeoutMs;
  const address = server.address();
  const close = async () => {
    // Readiness down first, then no new requests (in-flight ones finish), then workers and connections.
    app.get(ShutdownState, { strict: false }).draining = true;
    if (config.shutdownReadyDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, config.shutdownReadyDelayMs));
    await closeHttp(app, Math.max(1_000, Math.min(10_000, config.shutdownGraceMs / 2)));
    await app.get(WorkerRegistry).forceCloseIfRedisAway(config);
    await app.close();
  };
  return { app, port: typeof address === 'object' && address ? address.port : port, close };
}

/**
 * Stops taking requests and lets those in flight finish for up to `drainMs`; then cuts what is
 * left (a client trickling a body in, say), so that a slow client cannot hold shutdown past its
 * grace. Nothing answered 2xx is lost: an unanswered webhook is sent again by its sender.
 */
async function closeHttp(app: NestFastifyApplication, drainMs: number): Promise<void> {
  const closing = app.getHttpAdapter().getInstance().close();
  let timer: NodeJS.Timeout | undefined;
  const drained = await Promise.race([
    closing.then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), drainMs))),
  ]);
  clearTimeout(timer);
  if (!drained) {
    app.getHttpServer().closeAllConnections();
    await closing;
  }
}
