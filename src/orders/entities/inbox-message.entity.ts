import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** Every webhook message the orders module has applied or ignored, once per source and id. */
@Entity('inbox_messages')
@Check('inbox_messages_outcome_check', `outcome IN ('applied', 'ignored')`)
// Built by the workers with CREATE INDEX CONCURRENTLY (InboxRetention), not by a migration: a
// migration's transaction would lock the inbox, and orders with it, for the whole build.
@Index('inbox_messages_received_at_idx', { synchronize: false })
export class InboxMessageEntity {
  @PrimaryColumn({ type: 'text' })
  source: string;

  @PrimaryColumn({ name: 'message_id', type: 'text' })
  messageId: string;

  @Column({ type: 'text' })
  topic: string;

  @Column({ type: 'text' })
  body: string;

  @Column({ name: 'received_at', type: 'timestamptz' })
  receivedAt: Date;

  @Column({ name: 'applied_at', type: 'timestamptz', default: () => 'now()' })
  appliedAt: Date;

  @Column({ type: 'text' })
  outcome: 'applied' | 'ignored';

  @Column({ type: 'text', nullable: true })
  reason: string | null;
}
