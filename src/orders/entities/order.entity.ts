import { Check, Column, Entity, Index, PrimaryColumn, Unique } from 'typeorm';

export const ORDER_STATUSES = ['PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'EXTERNAL'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/**
 * The `orders` table as the migrations make it (a test checks that the two agree, so that
 * `npm run migration:generate` starts from no difference). Queries are raw SQL in the repositories.
 */
@Entity('orders')
@Check('orders_status_check', `status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'EXTERNAL')`)
@Check('orders_placeholder_for_check', `placeholder_for IN ('order', 'supplier_order')`)
@Check('orders_placeholder_check', `(status = 'EXTERNAL') = (placeholder_for IS NOT NULL)`)
@Unique('orders_supplier_order_id_key', ['supplierOrderId'])
@Index('orders_created_idx', ['createdAt', 'id'])
@Index('orders_status_idx', ['status', 'createdAt', 'id'])
@Index('orders_updated_idx', ['updatedAt'])
@Index('orders_supplier_status_idx', ['supplierStatus'], { where: 'supplier_status IS NOT NULL' })
@Index('orders_lease_idx', ['leaseUntil'], { where: `status = 'PROCESSING'` })
// ((greatest(supplier_status_at, supplier_checked_at))) WHERE supplier_order_id IS NOT NULL: an expression, made by its migration.
@Index('orders_supplier_known_at_idx', { synchronize: false })
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

  /** When the supplier state was last checked at 1688 by the sweep (changed or not). */
  @Column({ name: 'supplier_checked_at', type: 'timestamptz', nullable: true })
  supplierCheckedAt: Date | null;

  @Column({ type: 'integer', default: 0 })
  attempts: number;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError: string | null;

  @Column({ name: 'lease_until', type: 'timestamptz', nullable: true })
  leaseUntil: Date | null;

  /** What named an EXTERNAL placeholder: our order id (generic webhooks) or a 1688 supplier order. */
  @Column({ name: 'placeholder_for', type: 'text', nullable: true })
  placeholderFor: 'order' | 'supplier_order' | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt: Date;
}
