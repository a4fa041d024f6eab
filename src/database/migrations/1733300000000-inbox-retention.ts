import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The inbox is kept for INBOX_RETENTION_DAYS (it grew without end before): an index by arrival
 * time lets the worker find and delete the oldest rows in small batches.
 */
export class InboxRetention1733300000000 implements MigrationInterface {
  name = 'InboxRetention1733300000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX inbox_messages_received_at_idx ON inbox_messages (received_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX inbox_messages_received_at_idx`);
  }
}
