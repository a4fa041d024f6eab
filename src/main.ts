import { ConfigError, loadConfig } from './config/app-config.js';
import { createLogger, startService } from './bootstrap.js';

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
  const service = await startService(config, logger);
  logger.log({ msg: 'ordersync started', role: config.role, port: service.port });
}

main().catch((error: unknown) => {
  process.stderr.write(`ordersync failed to start: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
