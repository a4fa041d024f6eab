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
