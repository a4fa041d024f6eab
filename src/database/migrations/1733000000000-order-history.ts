import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The history table gets a name of its own (the `order-events` queue carries inbound messages;
 * this table is each order's history), and EXTERNAL placeholders say what named them: our order
 * id (a generic webhook for an order not created yet: creating it takes the placeholder over) or
 * a supplier order (a 1688 message: only a dispatch that links that supplier order merges it).
 */
export class OrderHistory1733000000000 implements MigrationInterface {
  name = 'OrderHistory1733000000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE order_events RENAME TO order_history`);
    await db.query(`ALTER SEQUENCE order_events_id_seq RENAME TO order_history_id_seq`);
    await db.query(`ALTER INDEX order_events_pkey RENAME TO order_history_pkey`);
    await db.query(`ALTER INDEX order_events_order_idx RENAME TO order_history_order_idx`);
    await db.query(`ALTER TABLE order_history RENAME CONSTRAINT order_events_kind_check TO order_history_kind_check`);
    await db.query(`ALTER TABLE order_history RENAME CONSTRAINT order_events_outcome_check TO order_history_outcome_check`);
    await db.query(`ALTER TABLE order_history RENAME CONSTRAINT order_events_order_id_fkey TO order_history_order_id_fkey`);

    await db.query(`ALTER TABLE orders ADD COLUMN placeholder_for text CHECK (placeholder_for IN ('order', 'supplier_order'))`);
    await db.query(
      `UPDATE orders SET placeholder_for = CASE WHEN supplier_order_id IS NOT NULL AND id = '1688-' || supplier_order_id THEN 'supplier_order' ELSE 'order' END
       WHERE status = 'EXTERNAL'`,
    );
    await db.query(
      `ALTER TABLE orders ADD CONSTRAINT orders_placeholder_check CHECK ((status = 'EXTERNAL') = (placeholder_for IS NOT NULL))`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE orders DROP CONSTRAINT orders_placeholder_check`);
    await db.query(`ALTER TABLE orders DROP COLUMN placeholder_for`);
    await db.query(`ALTER TABLE order_history RENAME CONSTRAINT order_history_order_id_fkey TO order_events_order_id_fkey`);
    await db.query(`ALTER TABLE order_history RENAME CONSTRAINT order_history_outcome_check TO order_events_outcome_check`);
    await db.query(`ALTER TABLE order_history RENAME CONSTRAINT order_history_kind_check TO order_events_kind_check`);
    await db.query(`ALTER INDEX order_history_order_idx RENAME TO order_events_order_idx`);
    await db.query(`ALTER INDEX order_history_pkey RENAME TO order_events_pkey`);
    await db.query(`ALTER SEQUENCE order_history_id_seq RENAME TO order_events_id_seq`);
    await db.query(`ALTER TABLE order_history RENAME TO order_events`);
  }
}
