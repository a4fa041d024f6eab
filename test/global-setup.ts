import pg from 'pg';
import { Redis } from 'ioredis';
import { ADMIN_DATABASE_URL, TEST_REDIS_URL } from './support/service.js';

/** Fails early, with a clear message, when Postgres or Redis is not there. */
export default async function setup(): Promise<void> {
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
}
