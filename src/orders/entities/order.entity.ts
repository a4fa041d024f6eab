import { Column, Entity, PrimaryColumn } from 'typeorm';

export const ORDER_STATUSES = ['PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'EXTERNAL'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

@Entity('orders')
export class OrderEntity {
  @PrimaryColumn({ type: 'text' })
  id: string;

  /** Dispatch lifecycle; EXTERNAL holds 1688 messages for a supplier order nobody placed through us yet. */
  @Column({ type: 'text' })
  status: OrderStatus;

  @Column({ type: 'jsonb', nullable: true })
  payload: Record<string, unknown> | null;

  @Column({ name: 'supplier_order_id', type: 'text', nullable: true })
  supplierOrderId: string | null;

  @Column({ name: 'supplier_status', type: 'text', nullable: true })
  supplierStatus: string | null;

  @Column({ name: 'supplier_status_at', type: 'timestamptz', nullable: true })
  supplierStatusAt: Date | null;

  @Column({ name: 'supplier_status_born', type: 'bigint', nullable: true })
  supplierStatusBorn: string | null;

  @Column({ name: 'supplier_status_rank', type: 'smallint', nullable: true })
  supplierStatusRank: number | null;

  @Column({ type: 'integer', default: 0 })
  attempts: number;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError: string | null;

  @Column({ name: 'lease_until', type: 'timestamptz', nullable: true })
  leaseUntil: Date | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
