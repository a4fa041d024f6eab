import 'reflect-metadata';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { ConfigError, loadConfig } from '../config/app-config.js';
import { dataSourceOptions } from './data-source-options.js';
import { migrate, migrationUrl, revertLastMigration } from './migrate.js';

/**
 * Migrations by hand, for managed databases and deployments that set MIGRATE_ON_START=false:
 *
 *   npm run migrate                      # = migration:run: create the database if missing, apply pending migrations
 *   npm run migration:revert             # undo the newest one
 *   npm run migration:generate -- Name   # write src/database/migrations/<time>-<name>.ts from the entities' difference
 *
 * Reads the same configuration as the service (DATABASE_MIGRATION_URL, else DATABASE_URL).
 */
async function main(argv: string[]): Promise<number> {
  const [command = 'run', name] = argv;
  const { config } = loadConfig();
  switch (command) {
    case 'run': {
      const applied = await migrate(config);
      process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'no pending migration\n');
      return 0;
    }
    case 'revert': {
      const reverted = await revertLastMigration(config);
      process.stdout.write(reverted ? `reverted: ${reverted}\n` : 'no migration to revert\n');
      return 0;
    }
    case 'generate': {
      if (!name || !/^[A-Za-z][A-Za-z0-9]*$/.test(name)) {
        process.stderr.write('usage: migration:generate -- <Name> (letters and digits, starting with a letter)\n');
        return 2;
      }
      const file = await generate(migrationUrl(config), name);
      process.stdout.write(file ? `wrote ${file}\n` : 'the entities match the database: nothing to generate\n');
      return 0;
    }
    default:
      process.stderr.write(`unknown command "${command}": run, revert or generate <Name>\n`);
      return 2;
  }
}

/** A migration holding what the entities want and the migrated database lacks, and how to undo it. */
async function generate(databaseUrl: string, name: string): Promise<string | null> {
  const dataSource = new DataSource(dataSourceOptions({ databaseUrl, databasePoolMax: 1 }, 1));
  await dataSource.initialize();
  try {
    const { upQueries, downQueries } = await dataSource.driver.createSchemaBuilder().log();
    if (upQueries.length === 0) return null;
    const timestamp = Date.now();
    const className = `${name}${timestamp}`;
    const line = (query: string, params?: unknown[]) =>
      `    await db.query(${JSON.stringify(query)}${params?.length ? `, ${JSON.stringify(params)}` : ''});`;
    const text = `import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ${className} implements MigrationInterface {
  name = '${className}';

  async up(db: QueryRunner): Promise<void> {
${upQueries.map((q) => line(q.query, q.parameters)).join('\n')}
  }

  async down(db: QueryRunner): Promise<void> {
${[...downQueries]
  .reverse()
  .map((q) => line(q.query, q.parameters))
  .join('\n')}
  }
}
`;
    const dir = join(process.cwd(), 'src', 'database', 'migrations');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${timestamp}-${name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase()}.ts`);
    writeFileSync(file, text);
    return file;
  } finally {
    await dataSource.destroy();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof ConfigError ? error.message : ((error as Error).stack ?? String(error))}\n`);
    process.exit(1);
  },
);
