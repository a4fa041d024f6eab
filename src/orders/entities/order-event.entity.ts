import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

@Entity('order_events')
export class OrderEventEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  @Column({ name: 'order_id', type: 'text' })
  orderId: string;

  @Column({ type: 'text' })
  kind: 'supplier_message' | 'status_change' | 'dispatch_attempt' | 'merged';

  @Column({ type: 'text', nullable: true })
  source: string | null;

  @Column({ name: 'message_id', type: 'text', nullable: true })
  messageId: string | null;

  @Column({ type: 'text', nullable: true })
  topic: string | null;

  @Column({ name: 'supplier_status', type: 'text', nullable: true })
  supplierStatus: string | null;

  @Column({ name: 'occurred_at', type: 'timestamptz', nullable: true })
  occurredAt: Date | null;

  @Column({ name: 'from_status', type: 'text', nullable: true })
  fromStatus: string | null;

  @Column({ name: 'to_status', type: 'text', nullable: true })
  toStatus: string | null;

  /** The call to the external API this event is about (dispatch events). */
  @Column({ type: 'integer', nullable: true })
  attempt: number | null;

  @Column({ type: 'text' })
  outcome: 'applied' | 'ignored';

  @Column({ type: 'text', nullable: true })
  reason: string | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
