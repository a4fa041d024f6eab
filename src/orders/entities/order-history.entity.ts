import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { OrderEntity } from './order.entity.js';

/** Each order's history (the `order_history` table); see OrderHistoryRepository. */
@Entity('order_history')
@Check('order_history_kind_check', `kind IN ('supplier_message', 'status_change', 'dispatch_attempt', 'merged')`)
@Check('order_history_outcome_check', `outcome IN ('applied', 'ignored')`)
@Index('order_history_order_idx', ['orderId', 'id'])
export class OrderHistoryEntity {
  @PrimaryGeneratedColumn({ type: 'bigint', primaryKeyConstraintName: 'order_history_pkey' })
  id: string;

  @Column({ name: 'order_id', type: 'text' })
  orderId: string;

  @ManyToOne(() => OrderEntity, { onDelete: 'CASCADE', onUpdate: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'order_id', foreignKeyConstraintName: 'order_history_order_id_fkey' })
  order?: OrderEntity;

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

  /** The call to the external API this entry is about (dispatch entries). */
  @Column({ type: 'integer', nullable: true })
  attempt: number | null;

  @Column({ type: 'text' })
  outcome: 'applied' | 'ignored';

  @Column({ type: 'text', nullable: true })
  reason: string | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;
}
