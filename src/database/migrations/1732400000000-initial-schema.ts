import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1732400000000 implements MigrationInterface {
  name = 'InitialSchema1732400000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE orders (
        id                    text PRIMARY KEY,
        status                text NOT NULL CHECK (status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'EXTERNAL')),
        payload               jsonb,
        supplier_order_id     text UNIQUE,
        supplier_status       text,
        supplier_status_at    timestamptz,
        supplier_status_born  bigint,
        supplier_status_rank  smallint,
        attempts              integer NOT NULL DEFAULT 0,
        last_error            text,
        lease_until           timestamptz,
        created_at            timestamptz NOT NULL DEFAULT now(),
        updated_at            timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`CREATE INDEX orders_created_idx ON orders (created_at, id)`);
    await db.query(`CREATE INDEX orders_status_idx ON orders (status, created_at, id)`);
    await db.query(`CREATE INDEX orders_updated_idx ON orders (updated_at)`);
    await db.query(`CREATE INDEX orders_supplier_status_idx ON orders (supplier_status) WHERE supplier_status IS NOT NULL`);

    // Every webhook message once: the unique key makes a re-sent message a no-op long after
    // the queue has forgotten it.
    await db.query(`
      CREATE TABLE inbox_messages (
        source       text NOT NULL,
        message_id   text NOT NULL,
        topic        text NOT NULL,
        body         text NOT NULL,
        received_at  timestamptz NOT NULL,
        applied_at   timestamptz NOT NULL DEFAULT now(),
        outcome      text NOT NULL CHECK (outcome IN ('applied', 'ignored')),
        reason       text,
        PRIMARY KEY (source, message_id)
      )`);

    // An order's history: dispatch status changes and every message that touched it.
    await db.query(`
      CREATE TABLE order_events (
        id               bigserial PRIMARY KEY,
        order_id         text NOT NULL REFERENCES orders (id) ON UPDATE CASCADE ON DELETE CASCADE,
        kind             text NOT NULL CHECK (kind IN ('supplier_message', 'status_change')),
        source           text,
        message_id       text,
        topic            text,
        supplier_status  text,
        occurred_at      timestamptz,
        from_status      text,
        to_status        text,
        outcome          text NOT NULL CHECK (outcome IN ('applied', 'ignored')),
        reason           text,
        created_at       timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`CREATE INDEX order_events_order_idx ON order_events (order_id, id)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE order_events');
    await db.query('DROP TABLE inbox_messages');
    await db.query('DROP TABLE orders');
  }
}
