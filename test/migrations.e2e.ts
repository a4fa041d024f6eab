import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../src/database/data-source-options.js';
import { migrate } from '../src/database/migrate.js';
import { startPgBouncer, type RunningPgBouncer } from './support/pgbouncer.js';
import { dropDatabase, isolatedNames, startTestService, testEnv } from './support/service.js';

const run = promisify(execFile);

/**
 * Migrations through PgBouncer in transaction mode (a transaction-scoped lock: a session lock
 * would not hold there), and for managed databases MIGRATE_ON_START=false with the migration
 * scripts (dist/database/migrate-cli.js: run, revert, generate).
 */
let bouncer: RunningPgBouncer;
const made: string[] = [];

beforeAll(async () => {
  bouncer = await startPgBouncer({ defaultPoolSize: 4 });
});
afterAll(async () => {
  await bouncer?.stop();
  for (const name of made) await dropDatabase(name);
});

async function tables(databaseUrl: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`);
    return rows.map((row: { tablename: string }) => row.tablename);
  } finally {
    await client.end();
  }
}

describe('migrations', () => {
  it('run once when three instances migrate at once through PgBouncer', async () => {
    const names = isolatedNames('migrate_bouncer');
    made.push(names.databaseName);
    // The database first (CREATE DATABASE is not for PgBouncer), then the migrations through it.
    await migrate({ databaseUrl: names.databaseUrl, databaseMigrationUrl: '', databasePoolMax: 2 }).then(async () => {
      const client = new pg.Client({ connectionString: names.databaseUrl });
      await client.connect();
      await client.query('DROP TABLE IF EXISTS migrations, sync_runs, sync_watermarks, order_history, inbox_messages, orders CASCADE');
      await client.end();
    });
    const viaBouncer = bouncer.url(names.databaseName);
    const results = await Promise.all(
      [1, 2, 3].map(() => migrate({ databaseUrl: viaBouncer, databaseMigrationUrl: '', databasePoolMax: 2 })),
    );
    expect(results.flat().sort()).toEqual(MIGRATIONS.map((m) => m.name).sort());
    expect(await tables(names.databaseUrl)).toEqual(
      expect.arrayContaining(['inbox_messages', 'migrations', 'order_history', 'orders', 'sync_runs', 'sync_watermarks']),
    );
  });

  it(
    'leaves the schema alone with MIGRATE_ON_START=false; npm run migrate, migration:revert and migration:generate do it',
    { timeout: 90_000 },
    async () => {
      const names = isolatedNames('migrate_manual');
      made.push(names.databaseName);
      const admin = new pg.Client({ connectionString: names.databaseUrl.replace(/\/[^/]+$/, '/postgres') });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(names.databaseName)}`);
      await admin.end();
      const service = await startTestService('migrate_manual_svc', {
        DATABASE_URL: names.databaseUrl,
        MIGRATE_ON_START: 'false',
        ROLE: 'api',
      });
      await service.stop();
      expect(await tables(names.databaseUrl)).toEqual([]);

      const env = { ...process.env, ...testEnv(names), LOG_LEVEL: 'error' };
      const cli = (...args: string[]) => run(process.execPath, ['dist/database/migrate-cli.js', ...args], { env, cwd: process.cwd() });
      expect((await cli('run')).stdout).toMatch(/^applied: InitialSchema/);
      expect((await cli('run')).stdout).toMatch(/no pending migration/);
      expect((await cli('generate', 'Nothing')).stdout).toMatch(/nothing to generate/);
      expect((await cli('revert')).stdout).toMatch(/^reverted: SupplierChecked1733200000000/);
      expect((await cli('revert')).stdout).toMatch(/^reverted: Sync1733100000000/);
      expect(await tables(names.databaseUrl)).not.toContain('sync_runs');
      expect((await cli('run')).stdout).toMatch(/^applied: Sync1733100000000/);
      await expect(cli('generate', 'bad name')).rejects.toMatchObject({ code: 2 });
    },
  );
});
