import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Pulling from 1688 and reconciling against it: the watermark each kind of run resumes from, and
 * the record of every run (what it pulled, confirmed, found out of step, and why it failed).
 */
export class Sync1733100000000 implements MigrationInterface {
  name = 'Sync1733100000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE sync_watermarks (
        kind        text PRIMARY KEY CHECK (kind IN ('pull', 'sweep')),
        watermark   timestamptz NOT NULL,
        updated_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`
      CREATE TABLE sync_runs (
        id           bigserial PRIMARY KEY,
        kind         text NOT NULL CHECK (kind IN ('pull', 'sweep')),
        trigger      text NOT NULL CHECK (trigger IN ('schedule', 'manual')),
        started_at   timestamptz NOT NULL DEFAULT now(),
        finished_at  timestamptz,
        outcome      text CHECK (outcome IN ('ok', 'failed')),
        window_from  timestamptz,
        window_to    timestamptz,
        counts       jsonb NOT NULL DEFAULT '{}',
        error        text
      )`);
    await db.query(`CREATE INDEX sync_runs_kind_idx ON sync_runs (kind, id)`);
    // Stale linked orders, oldest first, for the sweep's one-by-one re-reads.
    await db.query(`CREATE INDEX orders_supplier_status_at_idx ON orders (supplier_status_at) WHERE supplier_order_id IS NOT NULL`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX orders_supplier_status_at_idx`);
    await db.query(`DROP TABLE sync_runs`);
    await db.query(`DROP TABLE sync_watermarks`);
  }
}
