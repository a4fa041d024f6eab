// @ts-check
// The fleet most scenarios run (an API and workers) and the settings they share.
import { freePort } from './common.mjs';

/**
 * @import { Context } from './context.mjs'
 * @import { ServiceProcess } from './processes.mjs'
 */

/** The fake supplier: small latency, a rate limit, a few 503s and lost answers (after the side effect). */
export const SUPPLIER_OPTIONS = Object.freeze({
  latencyMs: 20,
  latencyJitterMs: 10,
  rateLimit: 300,
  error5xx: 0.02,
  closeConnection: 0.01,
  seed: 20261129,
});

/**
 * Dispatch tuned for a short run: short locks and leases so crashed work is taken over in seconds.
 *
 * @param {{ url: string }} supplier where the service sends orders
 * @param {Record<string, string>} [extra]
 * @returns {Record<string, string>}
 */
export function dispatchEnv(supplier, extra = {}) {
  return {
    EXTERNAL_API_URL: supplier.url,
    EXTERNAL_API_RATE_LIMIT: '200',
    EXTERNAL_API_TIMEOUT_MS: '2000',
    DISPATCH_LOCK_MS: '5000',
    DISPATCH_LEASE_MS: '5000',
    DISPATCH_RECOVERY_INTERVAL_MS: '1000',
    DISPATCH_CRON: '*/5 * * * * *',
    DISPATCH_MAX_ATTEMPTS: '20',
    DISPATCH_CONCURRENCY: '20',
    DATABASE_POOL_MAX: '5',
    ...extra,
  };
}

/**
 * Starts the API on a fixed port (so that a restart keeps the address) and `workers` worker
 * processes; with `workerHttp` each worker has a fixed WORKER_HTTP_PORT of its own (its
 * readiness and /metrics), else none (no HTTP at all, the usual worker).
 *
 * @param {Context} ctx
 * @param {Record<string, string>} env
 * @param {{ workers?: number, apiEnv?: Record<string, string>, workerHttp?: boolean }} [options]
 * @returns {Promise<{ api: ServiceProcess, workers: ServiceProcess[] }>}
 */
export async function startFleet(ctx, env, { workers = 2, apiEnv = {}, workerHttp = false } = {}) {
  const api = await ctx.startService({ label: 'api', role: 'api', port: await freePort(), env: { ...env, ...apiEnv } });
  const ports = [];
  for (let i = 0; i < workers; i++) ports.push(workerHttp ? await freePort() : 0);
  const list = await Promise.all(
    ports.map((workerHttpPort, i) => ctx.startService({ label: `worker-${i + 1}`, role: 'worker', workerHttpPort, env })),
  );
  ctx.did(
    `started ordersync api (port ${api.port}) and ${workers} worker process${workers > 1 ? 'es' : ''}${workerHttp ? ` (their /health and /metrics on ${ports.join(', ')})` : ''} on database ${ctx.databaseName}, queue prefix ${ctx.queuePrefix}`,
  );
  return { api, workers: list };
}
