import { Check, Column, Entity, PrimaryColumn } from 'typeorm';

export type SyncKind = 'pull' | 'sweep';

/** Where the next pull or sweep starts (less an overlap). See SyncRepository. */
@Entity('sync_watermarks')
@Check('sync_watermarks_kind_check', `kind IN ('pull', 'sweep')`)
export class SyncWatermarkEntity {
  @PrimaryColumn({ type: 'text' })
  kind: SyncKind;

  @Column({ type: 'timestamptz' })
  watermark: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt: Date;
}
