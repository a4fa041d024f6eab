import { ConfigError, loadConfig } from './config/app-config.js';
import { createLogger, startService } from './bootstrap.js';
import { startTracing, stopTracing } from './telemetry/tracing.js';

async function main(): Promise<void> {
  let loaded;
  try {
    loaded = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const { config, devFallbacks } = loaded;
  const logger = createLogger(config);
  for (const name of devFallbacks) {
    logger.warn({ msg: `${name} is not set: using a development value. Never run like this in production.`, variable: name });
  }
  if (startTracing()) logger.log({ msg: 'tracing on', exporter: 'otlp-http' });
  const service = await startService(config, logger);
  logger.log({ msg: 'ordersync started', role: config.role, port: service.port });

  // SIGTERM: readiness down, HTTP drains, workers finish their jobs, connections close, exit 0.
  // Past SHUTDOWN_GRACE_MS the process exits 1; unfinished jobs go back to their queues when
  // their locks expire, and nothing answered 2xx is lost (it is in Redis already).
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.log({ msg: 'stopping', signal, graceMs: config.shutdownGraceMs });
    setTimeout(() => {
      logger.error({ msg: 'shutdown grace period over; exiting with work unfinished', graceMs: config.shutdownGraceMs });
      process.exit(1);
    }, config.shutdownGraceMs).unref();
    service
      .close()
      .then(() => stopTracing())
      .then(
        () => {
          logger.log({ msg: 'stopped' });
          process.exit(0);
        },
        (error: unknown) => {
          logger.error({ msg: 'shutdown failed', err: error });
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`ordersync failed to start: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
