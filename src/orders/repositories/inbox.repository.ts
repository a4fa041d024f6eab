import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { returningRows, type Db } from './db.js';

export interface InboxEntry {
  source: string;
  messageId: string;
  topic: string;
  body: string;
  receivedAt: string;
  outcome: 'applied' | 'ignored';
  reason: string | null;
}

export const RECEIVED_AT_INDEX = 'inbox_messages_received_at_idx';

/** The key a message is known by in the inbox. */
export function inboxKey(source: string, messageId: string): string {
  return `${source}\u0000${messageId}`;
}

/**
 * The `inbox_messages` table: every message once per (source, message id). Its unique key makes a
 * re-sent or re-pulled message a no-op long after the queue has forgotten it.
 */
@Injectable()
export class InboxRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Builds the index by arrival time that retention deletes by, without locking writes (CREATE
   * INDEX CONCURRENTLY, outside any transaction); nothing when it exists already.
   */
  async ensureReceivedAtIndex(): Promise<void> {
    await this.dataSource.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS ${RECEIVED_AT_INDEX} ON inbox_messages (received_at)`);
  }

  /** Whether that index exists and is usable (a concurrent build in progress or failed leaves it invalid). */
  async receivedAtIndexValid(): Promise<boolean | null> {
    const rows: { valid: boolean }[] = await this.dataSource.query(
      `SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
       WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace`,
      [RECEIVED_AT_INDEX],
    );
    return rows[0]?.valid ?? null;
  }

  /**
   * Deletes up to `limit` of the oldest rows received before `before`; returns how many. Rows
   * another worker is deleting are skipped, so that two workers never wait on each other.
   */
  async deleteReceivedBefore(before: Date, limit: number): Promise<number> {
    const rows = await returningRows<{ source: string }>(
      this.dataSource,
      `DELETE FROM inbox_messages WHERE (source, message_id) IN (
         SELECT source, message_id FROM inbox_messages WHERE received_at < $1
         ORDER BY received_at LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING source`,
      [before, limit],
    );
    return rows.length;
  }

  /** Records the messages not seen before and returns their keys ({@link inboxKey}); the others were applied already. */
  async recordNew(db: Db, entries: InboxEntry[]): Promise<Set<string>> {
    if (entries.length === 0) return new Set();
    const column = <K extends keyof InboxEntry>(key: K) => entries.map((e) => e[key]);
    const rows: { source: string; message_id: string }[] = await db.query(
      `INSERT INTO inbox_messages (source, message_id, topic, body, received_at, outcome, reason)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[])
       ON CONFLICT DO NOTHING
       RETURNING source, message_id`,
      [column('source'), column('messageId'), column('topic'), column('body'), column('receivedAt'), column('outcome'), column('reason')],
    );
    return new Set(rows.map((row) => inboxKey(row.source, row.message_id)));
  }
}
