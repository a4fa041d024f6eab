import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { loadConfig, type AppConfig } from '../../src/config/app-config.js';
import { startService, type RunningService } from '../../src/bootstrap.js';
import { createRedis, deleteMatching, queuePrefixFor, type RedisClient } from '../../src/redis/redis-connections.js';

/**
 * The parts a run talks to, as test/global-setup.ts started them: the local Redis and Postgres, or
 * (TEST_REDIS_TOPOLOGY=cluster) a 3-master Redis Cluster, and/or (TEST_DATABASE_VIA=pgbouncer)
 * Postgres through PgBouncer in transaction mode.
 */
export interface TestTopology {
  redisClusterNodes: string;
  pgbouncerPort: number;
}

declare module 'vitest' {
  export interface ProvidedContext {
    topology: TestTopology;
  }
}

export function testTopology(): TestTopology {
  try {
    return inject('topology') ?? { redisClusterNodes: '', pgbouncerPort: 0 };
  } catch {
    return { redisClusterNodes: '', pgbouncerPort: 0 };
  }
}

export const ADMIN_DATABASE_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const API_KEY = 'test-api-key-0123456789';
export const ADMIN_KEY = 'test-admin-key-0123456789';
export const APP_SECRET = 'test-app-secret-0123456789';
export const WEBHOOK_SECRET = 'test-webhook-secret-0123456789';

/** A database name and queue prefix of its own, so runs and files never see each other's data. */
export function isolatedNames(label: string): { databaseUrl: string; databaseName: string; queuePrefix: string } {
  const suffix = `${label}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`.replace(/[^a-z0-9_]/gi, '_').toLowerCase();
  const databaseName = `ordersync_test_${suffix}`;
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${databaseName}`;
  return { databaseUrl: url.toString(), databaseName, queuePrefix: `ostest-${suffix}` };
}

/** The environment every test instance runs with: its own database and prefix, the test secrets. */
export function testEnv(names: ReturnType<typeof isolatedNames>): Record<string, string> {
  const topology = testTopology();
  const viaBouncer = new URL(names.databaseUrl);
  viaBouncer.port = String(topology.pgbouncerPort);
  return {
    PORT: '0',
    ...(topology.pgbouncerPort
      ? { DATABASE_URL: viaBouncer.toString(), DATABASE_MIGRATION_URL: names.databaseUrl }
      : { DATABASE_URL: names.databaseUrl }),
    REDIS_URL: TEST_REDIS_URL,
    ...(topology.redisClusterNodes ? { REDIS_CLUSTER_NODES: topology.redisClusterNodes } : {}),
    QUEUE_PREFIX: names.queuePrefix,
    ALIBABA_APP_KEY: '1234567',
    ALIBABA_APP_SECRET: APP_SECRET,
    WEBHOOK_SECRET,
    API_KEYS: `${API_KEY},second-key-0123456789`,
    ADMIN_API_KEYS: ADMIN_KEY,
    // Never the real 1688 from a test: the tests that pull point ALIBABA_API_URL at the fake and turn this on.
    ALIBABA_SYNC_ENABLED: 'false',
  };
}

export function testConfig(names: ReturnType<typeof isolatedNames>, env: Record<string, string> = {}): AppConfig {
  return loadConfig({ ...testEnv(names), LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error', APPLY_BATCH_WINDOW_MS: '10', ...env }).config;
}

export interface TestService {
  baseUrl: string;
  config: AppConfig;
  service: RunningService;
  db: pg.Pool;
  redis: RedisClient;
  stop(): Promise<void>;
}

/** A Redis connection to what the service under test uses (the Cluster, when the run has one). */
export function testRedis(options: { maxRetriesPerRequest?: number | null } = {}): RedisClient {
  const { redisClusterNodes } = testTopology();
  return createRedis(
    {
      redisUrl: TEST_REDIS_URL,
      redisClusterNodes: redisClusterNodes
        ? redisClusterNodes.split(',').map((hp) => ({ host: hp.split(':')[0], port: Number(hp.split(':')[1]) }))
        : [],
      redisSentinels: [],
      redisSentinelName: '',
    },
    options,
  );
}

/** BullMQ options that reach a service's queue from a test (its prefix, on a Cluster its hash tag). */
export function queueOptions(config: AppConfig, queueName: string): { connection: RedisClient; prefix: string } {
  // maxRetriesPerRequest null: BullMQ's workers need it (and queues do not mind).
  return {
    connection: testRedis({ maxRetriesPerRequest: null }),
    prefix: queuePrefixFor(
      config,
      queueName,
      config.orderEventsPartitions > 1 && queueName.startsWith('order-events-') && !queueName.endsWith('-dead'),
    ),
  };
}

/** Every key a run left under its prefix, whatever the topology (a Cluster's hash tags included). */
export async function deletePrefixKeys(queuePrefix: string): Promise<void> {
  const redis = testRedis();
  try {
    await deleteMatching(redis, `*${queuePrefix}*`);
  } finally {
    redis.disconnect();
  }
}

/** Starts the service in this process against real Postgres and Redis, on a fresh database and prefix. */
export async function startTestService(label: string, env: Record<string, string> = {}): Promise<TestService> {
  const names = isolatedNames(label);
  const config = testConfig(names, env);
  const service = await startService(config);
  const db = new pg.Pool({ connectionString: names.databaseUrl, max: 2 });
  const redis = testRedis();
  return {
    baseUrl: `http://127.0.0.1:${service.port}`,
    config,
    service,
    db,
    redis,
    async stop() {
      await service.close();
      await db.end();
      redis.disconnect();
      await deletePrefixKeys(names.queuePrefix);
      await dropDatabase(names.databaseName);
    },
  };
}

export async function dropDatabase(name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${last instanceof Error ? last.message : JSON.stringify(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A TCP port nothing listens on right now (for a service that must come up on it later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}
