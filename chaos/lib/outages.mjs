// @ts-check
// Postgres outages a scenario causes on its own database only (the server is shared: it is
// never stopped): its service connections cut (pg_terminate_backend), and the database refusing
// new connections (ALTER DATABASE … ALLOW_CONNECTIONS false) while they are cut.
import pg from 'pg';
import { CHAOS_APP_NAME } from './common.mjs';

/** @import { Context } from './context.mjs' */

/**
 * Terminates the service's backends on the scenario's database (never the suite's own).
 *
 * @param {Context} ctx
 * @returns {Promise<number>} how many
 */
export async function terminateServiceBackends(ctx) {
  const { rows } = await ctx.admin().query(
    `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
     WHERE datname = $1 AND pid <> pg_backend_pid() AND application_name IS DISTINCT FROM $2`,
    [ctx.databaseName, CHAOS_APP_NAME],
  );
  return rows[0].n;
}

/**
 * Cuts the service's connections every `everyMs` for `ms`.
 *
 * @param {Context} ctx
 * @param {number} ms
 * @param {number} [everyMs]
 * @returns {Promise<number>} backends terminated
 */
export async function cutConnectionsFor(ctx, ms, everyMs = 300) {
  let terminated = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    terminated += await terminateServiceBackends(ctx);
    await ctx.sleep(everyMs);
  }
  return terminated;
}

/**
 * The database refuses connections for `ms` (ALLOW_CONNECTIONS false) and the service's are cut
 * every `everyMs` meanwhile; allowed again at the end, also when the scenario is aborted.
 *
 * @param {Context} ctx
 * @param {number} ms
 * @param {{ everyMs?: number, onDown?: () => void }} [options]
 * @returns {Promise<{ terminated: number, downAt: number, upAt: number }>}
 */
export async function refuseConnectionsFor(ctx, ms, { everyMs = 300, onDown } = {}) {
  const db = pg.escapeIdentifier(ctx.databaseName);
  const admin = ctx.admin();
  let terminated = 0;
  await admin.query(`ALTER DATABASE ${db} ALLOW_CONNECTIONS false`);
  const downAt = performance.now();
  try {
    onDown?.();
    terminated += await cutConnectionsFor(ctx, ms, everyMs);
  } finally {
    await admin.query(`ALTER DATABASE ${db} ALLOW_CONNECTIONS true`);
  }
  return { terminated, downAt, upAt: performance.now() };
}

/** Log watches that show how the service took a Postgres outage. */
export const POSTGRES_WATCHES = Object.freeze({
  away: 'Postgres away (workers paused)',
  back: 'Postgres back (workers resumed)',
  attemptUsed: 'attempts used by order-events / dispatch-results / schedule jobs',
  connectionLost: 'database connection lost',
});

/**
 * Counts (per process too) the log lines that say Postgres went away and came back, jobs that
 * used an attempt in the queues that need Postgres, and lost pool connections.
 *
 * @param {Context} ctx
 */
export function watchPostgresOutage(ctx) {
  ctx.watchLog(POSTGRES_WATCHES.away, /Postgres is away: workers that need it pause/, { perProcess: true });
  ctx.watchLog(POSTGRES_WATCHES.back, /Postgres answers again: workers resumed/, { perProcess: true });
  ctx.watchLog(
    POSTGRES_WATCHES.attemptUsed,
    /^(?=.*"msg":"job failed)(?=.*"context":"(OrderEventsProcessor|DispatchResultsProcessor|DispatchScheduleProcessor)")/,
  );
  ctx.watchLog(POSTGRES_WATCHES.connectionLost, /"msg":"database connection lost"/);
}
