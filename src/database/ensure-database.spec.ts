import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ensureDatabase } from './ensure-database.js';

const ADMIN = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

describe('ensureDatabase', () => {
  it('creates a missing database once when several instances start together', async () => {
    const name = `ordersync_test_ensure_${randomBytes(4).toString('hex')}`;
    const url = new URL(ADMIN);
    url.pathname = `/${name}`;
    try {
      const created = await Promise.all(Array.from({ length: 6 }, () => ensureDatabase(url.toString())));
      expect(created.filter(Boolean).length).toBe(1);
      expect(await ensureDatabase(url.toString())).toBe(false);
    } finally {
      const admin = new pg.Client({ connectionString: ADMIN });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      await admin.end();
    }
  });
});
