import { Check, Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import type { SyncKind } from './sync-watermark.entity.js';

/** One pull or sweep: when, over which window, what it did, and why it failed. See SyncRepository. */
@Entity('sync_runs')
@Check('sync_runs_kind_check', `kind IN ('pull', 'sweep')`)
@Check('sync_runs_trigger_check', `trigger IN ('schedule', 'manual')`)
@Check('sync_runs_outcome_check', `outcome IN ('ok', 'failed')`)
@Index('sync_runs_kind_idx', ['kind', 'id'])
export class SyncRunEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  @Column({ type: 'text' })
  kind: SyncKind;

  @Column({ type: 'text' })
  trigger: 'schedule' | 'manual';

  @Column({ name: 'started_at', type: 'timestamptz', default: () => 'now()' })
  startedAt: Date;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt: Date | null;

  @Column({ type: 'text', nullable: true })
  outcome: 'ok' | 'failed' | null;

  @Column({ name: 'window_from', type: 'timestamptz', nullable: true })
  windowFrom: Date | null;

  @Column({ name: 'window_to', type: 'timestamptz', nullable: true })
  windowTo: Date | null;

  @Column({ type: 'jsonb', default: {} })
  counts: Record<string, number>;

  @Column({ type: 'text', nullable: true })
  error: string | null;
}
