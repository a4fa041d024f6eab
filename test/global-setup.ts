import pg from 'pg';
import { Redis } from 'ioredis';
import type { TestProject } from 'vitest/node';
import { startPgBouncer, type RunningPgBouncer } from './support/pgbouncer.js';
import { startRedisCluster, type RedisCluster } from './support/redis-cluster.js';
import { ADMIN_DATABASE_URL, TEST_REDIS_URL } from './support/service.js';

/**
 * Fails early, with a clear message, when Postgres or Redis is not there; and starts the
 * distributed parts a run asks for: TEST_REDIS_TOPOLOGY=cluster (a 3-master Redis Cluster) and
 * TEST_DATABASE_VIA=pgbouncer (Postgres through PgBouncer in transaction mode). The suites then
 * run against them unchanged (test/support/service.ts builds the services' environment).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    throw new Error(`The tests need PostgreSQL at ${ADMIN_DATABASE_URL} (docker compose up -d postgres): ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    await client.end().catch(() => undefined);
  }
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new Error(`The tests need Redis at ${TEST_REDIS_URL} (docker compose up -d redis): ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    redis.disconnect();
  }

  let cluster: RedisCluster | undefined;
  let bouncer: RunningPgBouncer | undefined;
  if (process.env.TEST_REDIS_TOPOLOGY === 'cluster') cluster = await startRedisCluster({ masters: 3 });
  if (process.env.TEST_DATABASE_VIA === 'pgbouncer') bouncer = await startPgBouncer({ defaultPoolSize: 20, maxClientConn: 400 });
  project.provide('topology', { redisClusterNodes: cluster?.nodesEnv ?? '', pgbouncerPort: bouncer?.port ?? 0 });
  return async () => {
    await cluster?.stop();
    await bouncer?.stop();
  };
}
