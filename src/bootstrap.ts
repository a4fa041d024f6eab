import 'reflect-metadata';
import { ConsoleLogger, type INestApplicationContext, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module.js';
import type { AppConfig } from './config/app-config.js';
import { prepareDatabase } from './database/migrate.js';

export function createLogger(config: Pick<AppConfig, 'logLevel'>): ConsoleLogger {
  const levels = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;
  const wanted = { fatal: 1, error: 2, warn: 3, info: 4, debug: 5, trace: 6, silent: 0 }[config.logLevel] ?? 4;
  return new ConsoleLogger({ json: true, logLevels: levels.slice(0, wanted) as never, prefix: 'ordersync' });
}

export function configureHttp(app: NestFastifyApplication, config: Pick<AppConfig, 'bodyLimitBytes'>): void {
  // Form bodies are only 1688 pushes, whose guard reads the raw bytes: parsing them here too
  // would be wasted work on the hottest route.
  app.useBodyParser('application/x-www-form-urlencoded', { bodyLimit: config.bodyLimitBytes }, (_request, body, done) => done(null, body));
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true, forbidUnknownValues: true }));
}

export interface RunningService {
  app: INestApplicationContext;
  /** The HTTP port, when this role serves HTTP. */
  port: number | null;
  close(): Promise<void>;
}

/**
 * Starts one instance in the configured role: the database is created and migrated before
 * anything serves; the worker role opens no HTTP port.
 */
export async function startService(config: AppConfig, logger = createLogger(config)): Promise<RunningService> {
  const migrations = await prepareDatabase(config);
  if (migrations.length > 0) logger.log({ msg: 'migrations applied', migrations });

  if (config.role === 'worker') {
    const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger });
    app.enableShutdownHooks();
    await app.init();
    return { app, port: null, close: () => app.close() };
  }

  const adapter = new FastifyAdapter({ bodyLimit: config.bodyLimitBytes, return503OnClosing: true });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, { rawBody: true, logger });
  configureHttp(app, config);
  app.enableShutdownHooks();
  await app.listen(config.port, '0.0.0.0');
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  return { app, port, close: () => app.close() };
}
