import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { returningRows } from '../orders/repositories/db.js';
import type { SyncKind } from './entities/sync-watermark.entity.js';

export interface SyncRunView {
  id: string;
  kind: SyncKind;
  trigger: 'schedule' | 'manual';
  startedAt: string;
  finishedAt: string | null;
  outcome: 'ok' | 'failed' | null;
  windowFrom: string | null;
  windowTo: string | null;
  counts: Record<string, number>;
  error: string | null;
}

/** The `sync_runs` and `sync_watermarks` tables, the reconciliation module's own. */
@Injectable()
export class SyncRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async watermark(kind: SyncKind): Promise<Date | null> {
    const rows: { watermark: Date }[] = await this.dataSource.query(`SELECT watermark FROM sync_watermarks WHERE kind = $1`, [kind]);
    return rows[0]?.watermark ?? null;
  }

  /** Moves a watermark forward only: a run that finishes late never takes it back. */
  async advanceWatermark(kind: SyncKind, to: Date): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO sync_watermarks (kind, watermark) VALUES ($1, $2)
       ON CONFLICT (kind) DO UPDATE SET watermark = GREATEST(sync_watermarks.watermark, EXCLUDED.watermark), updated_at = now()`,
      [kind, to],
    );
  }

  async startRun(kind: SyncKind, trigger: 'schedule' | 'manual', window: { from: Date; to: Date }): Promise<string> {
    const rows: { id: string }[] = await this.dataSource.query(
      `INSERT INTO sync_runs (kind, trigger, window_from, window_to) VALUES ($1, $2, $3, $4) RETURNING id::text AS id`,
      [kind, trigger, window.from, window.to],
    );
    return rows[0].id;
  }

  async finishRun(id: string, outcome: 'ok' | 'failed', counts: Record<string, number>, error: string | null): Promise<void> {
    await returningRows(
      this.dataSource,
      `UPDATE sync_runs SET finished_at = now(), outcome = $2, counts = $3::jsonb, error = $4 WHERE id = $1 RETURNING id`,
      [id, outcome, JSON.stringify(counts), error],
    );
    // A run a minute is half a million rows a year: keep 30 days of history.
    await this.dataSource.query(
      `DELETE FROM sync_runs WHERE id = ANY(ARRAY(SELECT id FROM sync_runs WHERE started_at < now() - interval '30 days' LIMIT 1000))`,
    );
  }

  /** The newest run of each kind, and the newest that failed (ordered by the bigint id, not its text). */
  async lastRuns(): Promise<{ last: Partial<Record<SyncKind, SyncRunView>>; lastFailed: Partial<Record<SyncKind, SyncRunView>> }> {
    const rows: (SyncRunView & { rank: string })[] = await this.dataSource.query(
      `SELECT * FROM (
         SELECT DISTINCT ON (kind) 'last' AS rank, id::text AS id, kind, trigger, started_at AS "startedAt", finished_at AS "finishedAt", outcome,
                window_from AS "windowFrom", window_to AS "windowTo", counts, error
         FROM sync_runs ORDER BY kind, sync_runs.id DESC) last
       UNION ALL
       SELECT * FROM (
         SELECT DISTINCT ON (kind) 'failed' AS rank, id::text AS id, kind, trigger, started_at, finished_at, outcome, window_from, window_to, counts, error
         FROM sync_runs WHERE outcome = 'failed' ORDER BY kind, sync_runs.id DESC) failed`,
    );
    const last: Partial<Record<SyncKind, SyncRunView>> = {};
    const lastFailed: Partial<Record<SyncKind, SyncRunView>> = {};
    for (const { rank, ...run } of rows) (rank === 'last' ? last : lastFailed)[run.kind] = run;
    return { last, lastFailed };
  }

  /** When a run of this kind last finished well, whatever ran since. */
  async lastSuccessAt(kind: SyncKind): Promise<Date | null> {
    // Runs of a kind never overlap, so the newest ok run by id finished last (and the
    // (kind, id) index walks back to it without reading the whole history).
    const rows: { at: Date | null }[] = await this.dataSource.query(
      `SELECT finished_at AS at FROM sync_runs WHERE kind = $1 AND outcome = 'ok' ORDER BY kind DESC, id DESC LIMIT 1`,
      [kind],
    );
    return rows[0]?.at ?? null;
  }

  /** Runs of a kind that overlapped in time (for the check that two never run at once). */
  async runs(kind: SyncKind): Promise<SyncRunView[]> {
    return this.dataSource.query(
      `SELECT id::text AS id, kind, trigger, started_at AS "startedAt", finished_at AS "finishedAt", outcome, window_from AS "windowFrom", window_to AS "windowTo", counts, error
       FROM sync_runs WHERE kind = $1 ORDER BY sync_runs.id`, // the bigint, not the text alias
      [kind],
    );
  }
}
