import { DataSource, MigrationExecutor } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { dataSourceOptions } from './data-source-options.js';
import { ensureDatabase } from './ensure-database.js';

/** Any constant works; it only has to be the same in every instance. */
const MIGRATION_LOCK_KEY = 7_316_880;

type MigrationConfig = Pick<AppConfig, 'databaseUrl' | 'databaseMigrationUrl' | 'databasePoolMax'>;

/** Where migrations run: DATABASE_MIGRATION_URL (a direct connection) when set, else DATABASE_URL. */
export function migrationUrl(config: MigrationConfig): string {
  return config.databaseMigrationUrl || config.databaseUrl;
}

/**
 * Runs `work` with the migrations of the schema, one instance at a time for the fleet: inside one
 * transaction that holds a transaction-scoped advisory lock. Unlike a session lock it works
 * through PgBouncer in transaction mode (the transaction keeps its server connection), and it is
 * released by COMMIT or ROLLBACK whatever happens, a killed process included.
 */
async function withMigrations<T>(config: MigrationConfig, work: (executor: MigrationExecutor) => Promise<T>): Promise<T> {
  const dataSource = new DataSource(dataSourceOptions({ ...config, databaseUrl: migrationUrl(config) }, 1));
  await dataSource.initialize();
  const runner = dataSource.createQueryRunner();
  try {
    await runner.startTransaction();
    await runner.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    const executor = new MigrationExecutor(dataSource, runner);
    // The transaction is ours (all migrations in it, with the lock): the executor opens none.
    executor.transaction = 'none';
    const result = await work(executor);
    await runner.commitTransaction();
    return result;
  } catch (error) {
    if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
    throw error;
  } finally {
    await runner.release();
    await dataSource.destroy();
  }
}

/** Creates the database when missing and runs pending migrations; returns their names. */
export async function migrate(config: MigrationConfig): Promise<string[]> {
  await ensureDatabase(migrationUrl(config));
  return withMigrations(config, async (executor) => (await executor.executePendingMigrations()).map((migration) => migration.name));
}

/** Undoes the newest migration; returns its name (null when none was applied). */
export async function revertLastMigration(config: MigrationConfig): Promise<string | null> {
  return withMigrations(config, async (executor) => {
    const applied = await executor.getExecutedMigrations();
    const last = applied.sort((a, b) => b.timestamp - a.timestamp)[0];
    if (!last) return null;
    await executor.undoLastMigration();
    return last.name;
  });
}

/** At start: MIGRATE_ON_START=false leaves the schema to `npm run migrate` (managed databases, PgBouncer). */
export async function prepareDatabase(config: MigrationConfig & Pick<AppConfig, 'migrateOnStart'>): Promise<string[]> {
  if (!config.migrateOnStart) return [];
  return migrate(config);
}
