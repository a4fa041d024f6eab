import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { dataSourceOptions } from './data-source-options.js';
import { ensureDatabase } from './ensure-database.js';

/** Any constant works; it only has to be the same in every instance. */
const MIGRATION_LOCK_KEY = 7_316_880;

/**
 * Creates the database when missing and runs pending migrations, one instance at a time
 * (an advisory lock), so a fleet starting together migrates once.
 */
export async function prepareDatabase(config: Pick<AppConfig, 'databaseUrl' | 'databasePoolMax'>): Promise<string[]> {
  await ensureDatabase(config.databaseUrl);
  const dataSource = new DataSource(dataSourceOptions(config, 2));
  await dataSource.initialize();
  try {
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      try {
        const ran = await dataSource.runMigrations({ transaction: 'each' });
        return ran.map((migration) => migration.name);
      } finally {
        await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
      }
    } finally {
      await runner.release();
    }
  } finally {
    await dataSource.destroy();
  }
}
