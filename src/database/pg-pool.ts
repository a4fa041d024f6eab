import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { EventEmitter } from 'node:events';
import type pg from 'pg';
import type { DataSource } from 'typeorm';

/** The node-postgres pool under TypeORM's postgres driver (its `master`), for metrics and error listening. */
export function pgPoolOf(dataSource: DataSource): pg.Pool | null {
  return (dataSource.driver as unknown as { master?: pg.Pool }).master ?? null;
}

/**
 * Keeps a connection that Postgres cuts from crashing the process. pg's pool drops its own
 * error listener when it hands a new client over, and TypeORM adds one a moment later: an error
 * in between (Postgres restarting, pg_terminate_backend) would be an unhandled 'error' event.
 * Every client gets a listener for its whole life; the query that was running fails and is
 * retried like any other lost connection.
 */
@Injectable()
export class PgPoolErrorListener implements OnModuleInit {
  private readonly logger = new Logger('Database');
  private lastLoggedAt = 0;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  onModuleInit(): void {
    const pool = pgPoolOf(this.dataSource);
    if (pool) listenForPoolErrors(pool, (error) => this.log(error));
  }

  private log(error: Error): void {
    // Rate-limited: a restart cuts every connection at once.
    if (Date.now() - this.lastLoggedAt < 5_000) return;
    this.lastLoggedAt = Date.now();
    this.logger.warn({ msg: 'database connection lost', err: error.message });
  }
}

export function listenForPoolErrors(pool: EventEmitter, onError: (error: Error) => void): void {
  pool.on('error', onError);
  pool.on('connect', (client: EventEmitter) => client.on('error', onError));
}
