import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/app-config.js';
import { startService } from '../src/bootstrap.js';
import { RedisPolicyError } from '../src/queues/redis-durability.js';
import { freePorts, makeTempDir, removeTempDir, requireCommand, startRedisProcess, type OwnedProcess } from './support/redis-cluster.js';
import { ADMIN_KEY, dropDatabase, isolatedNames, testEnv } from './support/service.js';

/** A Redis that evicts keys under memory pressure would drop jobs answered 2xx: production refuses it. */
let redis: OwnedProcess;
let dir: string;
let url: string;

beforeAll(async () => {
  const [port] = await freePorts(1);
  dir = await makeTempDir('evicting-redis');
  const server = await requireCommand('redis-server');
  redis = await startRedisProcess(
    server,
    port,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--maxmemory',
      '64mb',
      '--maxmemory-policy',
      'allkeys-lru',
    ],
    dir,
    'an evicting redis-server',
  );
  url = `redis://127.0.0.1:${port}`;
});
afterAll(async () => {
  await redis?.kill();
  if (dir) await removeTempDir(dir);
});

describe('the Redis policy check at start', () => {
  it('refuses to start in production against an evicting Redis, naming the policy', async () => {
    const names = isolatedNames('evicting_prod');
    const { config } = loadConfig({
      ...testEnv(names),
      NODE_ENV: 'production',
      REDIS_URL: url,
      ADMIN_API_KEYS: ADMIN_KEY,
      LOG_LEVEL: 'silent',
    });
    try {
      await expect(startService(config)).rejects.toThrow(RedisPolicyError);
      await expect(startService(config)).rejects.toThrow(/maxmemory-policy is "allkeys-lru".*noeviction/);
    } finally {
      await dropDatabase(names.databaseName);
    }
  });

  it('starts elsewhere, with a warning', async () => {
    const names = isolatedNames('evicting_dev');
    const { config } = loadConfig({ ...testEnv(names), REDIS_URL: url, LOG_LEVEL: 'silent' });
    const service = await startService(config);
    try {
      expect(service.port).toEqual(expect.any(Number));
    } finally {
      await service.close();
      await dropDatabase(names.databaseName);
    }
  });
});
