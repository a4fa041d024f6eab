import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When a linked order's supplier state was last checked at 1688 (a sweep re-read it, or its
 * window showed it). The sweep re-reads stale orders by the later of that and their last status
 * change, oldest first: an order found unchanged moves to the back instead of being chosen by
 * every sweep, and the ones behind it get their turn.
 */
export class SupplierChecked1733200000000 implements MigrationInterface {
  name = 'SupplierChecked1733200000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE orders ADD COLUMN supplier_checked_at timestamptz`);
    // Stale linked orders, known longest ago first (replaces the index by supplier_status_at alone).
    await db.query(
      `CREATE INDEX orders_supplier_known_at_idx ON orders ((greatest(supplier_status_at, supplier_checked_at))) WHERE supplier_order_id IS NOT NULL`,
    );
    await db.query(`DROP INDEX orders_supplier_status_at_idx`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX orders_supplier_status_at_idx ON orders (supplier_status_at) WHERE supplier_order_id IS NOT NULL`);
    await db.query(`DROP INDEX orders_supplier_known_at_idx`);
    await db.query(`ALTER TABLE orders DROP COLUMN supplier_checked_at`);
  }
}
