import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Dispatch: history of each call to the external API and of merged EXTERNAL orders; lease lookups. */
export class Dispatch1732500000000 implements MigrationInterface {
  name = 'Dispatch1732500000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE order_events DROP CONSTRAINT order_events_kind_check`);
    await db.query(
      `ALTER TABLE order_events ADD CONSTRAINT order_events_kind_check
         CHECK (kind IN ('supplier_message', 'status_change', 'dispatch_attempt', 'merged'))`,
    );
    await db.query(`ALTER TABLE order_events ADD COLUMN attempt integer`);
    await db.query(`CREATE INDEX orders_lease_idx ON orders (lease_until) WHERE status = 'PROCESSING'`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX orders_lease_idx`);
    await db.query(`ALTER TABLE order_events DROP COLUMN attempt`);
    await db.query(`DELETE FROM order_events WHERE kind IN ('dispatch_attempt', 'merged')`);
    await db.query(`ALTER TABLE order_events DROP CONSTRAINT order_events_kind_check`);
    await db.query(`ALTER TABLE order_events ADD CONSTRAINT order_events_kind_check CHECK (kind IN ('supplier_message', 'status_change'))`);
  }
}
