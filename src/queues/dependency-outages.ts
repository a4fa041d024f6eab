import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { WorkerRegistry } from './worker-registry.js';

/** How often a Postgres that went away is tried again. */
const PROBE_INTERVAL_MS = 1_000;

/**
 * What this process knows about Postgres being away. The first job that finds it away reports
 * it: the workers that need it stop taking jobs, a probe tries `SELECT 1` every second, and when
 * it answers they resume. Jobs that failed meanwhile wait (delayed) without using an attempt, so
 * an outage of any length dead-letters nothing.
 */
@Injectable()
export class DependencyOutages implements OnApplicationShutdown {
  private readonly logger = new Logger(DependencyOutages.name);
  private postgresDownSince: number | null = null;
  private probing: Promise<void> | null = null;
  private closing = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly workers: WorkerRegistry,
  ) {}

  get postgresAway(): boolean {
    return this.postgresDownSince !== null;
  }

  reportPostgresDown(error: unknown): void {
    if (this.postgresDownSince !== null || this.closing) return;
    this.postgresDownSince = Date.now();
    this.logger.warn({ msg: 'Postgres is away: workers that need it pause until it answers again', err: (error as Error).message });
    this.probing = this.probeUntilBack();
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    await this.probing;
  }

  private async probeUntilBack(): Promise<void> {
    await this.workers.pausePostgresWorkers();
    while (!this.closing) {
      await new Promise((resolve) => setTimeout(resolve, PROBE_INTERVAL_MS));
      try {
        await this.dataSource.query('SELECT 1');
        break;
      } catch {
        // still away
      }
    }
    const awayMs = Date.now() - (this.postgresDownSince ?? Date.now());
    this.postgresDownSince = null;
    this.probing = null;
    if (this.closing) return;
    this.workers.resumePostgresWorkers();
    this.logger.log({ msg: 'Postgres answers again: workers resumed', awayMs });
  }
}
