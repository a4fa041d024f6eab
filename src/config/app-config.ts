import { readFileSync } from 'node:fs';
import { CronExpressionParser } from 'cron-parser';
import { DEFAULT_DISPATCH_MAX_ATTEMPTS } from '../dispatch/dispatch-backoff.js';
import { readEnvironment, type Env } from './environment.js';

/**
 * The service's configuration, read from the environment once at boot and validated.
 * A wrong value stops the start with a message naming the variable; outside production a
 * missing secret falls back to a development value, loudly.
 */
export type Role = 'all' | 'api' | 'worker';

export interface AppConfig {
  nodeEnv: string;
  production: boolean;
  role: Role;
  port: number;
  databaseUrl: string;
  databasePoolMax: number;
  redisUrl: string;
  /** Redis Cluster seed nodes (REDIS_CLUSTER_NODES); empty: not a cluster. REDIS_URL still gives credentials and TLS. */
  redisClusterNodes: { host: string; port: number }[];
  /** Redis Sentinels (REDIS_SENTINELS) and the name of the master they watch; empty: no Sentinel. */
  redisSentinels: { host: string; port: number }[];
  redisSentinelName: string;
  /** >0: a webhook is answered 2xx only once this many replicas hold its job (WAIT). */
  redisMinReplicasAck: number;
  redisReplicasAckTimeoutMs: number;
  /** A direct connection for creating the database and migrating (DATABASE_URL may go through PgBouncer). */
  databaseMigrationUrl: string;
  /** false: the database is neither created nor migrated at start (managed databases: `npm run migrate`). */
  migrateOnStart: boolean;
  /** Key prefix for every BullMQ queue; lets several deployments or test runs share one Redis. */
  queuePrefix: string;
  alibabaAppKey: string;
  alibabaAppSecret: string;
  webhookSecret: string;
  /** Keys of the internal REST clients. */
  apiKeys: string[];
  /** Keys of operators: everything a client key may do, plus dead-letter actions, runs on demand and the dashboard. */
  adminApiKeys: string[];
  externalApiUrl: string;
  externalApiRateLimit: number;
  externalApiTimeoutMs: number;
  dispatchCron: string;
  dispatchMaxAttempts: number;
  /** Longest wait a supplier's Retry-After may ask for. */
  dispatchRetryAfterMaxMs: number;
  /** Off: no order is claimed for dispatch (the external API is away for maintenance, say). */
  dispatchEnabled: boolean;
  /** External calls in flight per worker process (the rate limit still caps the total). */
  dispatchConcurrency: number;
  /** Orders claimed per statement. */
  dispatchClaimBatch: number;
  /** How long a claimed order may stay PROCESSING without its job before recovery re-sends it. */
  dispatchLeaseMs: number;
  /** How often expired leases are looked for (one schedule for the fleet). */
  dispatchRecoveryIntervalMs: number;
  /** How long a dead worker holds a job before another takes it over (BullMQ lock). */
  dispatchLockMs: number;
  /** /health/backlog is 503 when a work queue has more waiting than this… */
  backlogMaxWaiting: number;
  /** …or its oldest waiting job is older than this. */
  backlogMaxAgeMs: number;
  /** Longest a health check waits for a dependency before calling it down. */
  healthCheckTimeoutMs: number;
  /** ROLE=worker: a small HTTP port for /health and /metrics only (0: none). */
  workerHttpPort: number;
  /** Largest request body accepted, in bytes. */
  bodyLimitBytes: number;
  /** A request whose headers or body take longer is answered 408 and its connection closed. */
  requestTimeoutMs: number;
  logLevel: string;
  /** json for machines (the default off a terminal), pretty for a person at a terminal. */
  logFormat: 'json' | 'pretty';
  /** How long a request may wait for Redis to accept a webhook before answering 503. */
  enqueueTimeoutMs: number;
  /** The order-events queue is split into this many queues (by supplier order id), for Redis Cluster. */
  orderEventsPartitions: number;
  /** Pushes that arrive within this window go to Redis as one job (up to publishBatchMaxMessages). */
  publishBatchWindowMs: number;
  publishBatchMaxMessages: number;
  /** Messages applied per database round and the longest a message waits for its batch. */
  applyBatchSize: number;
  applyBatchWindowMs: number;
  /** order-events jobs a worker holds at once (each carries several messages). */
  applyConcurrency: number;
  /** Dispatch results recorded per database round, and the longest one waits for its batch. */
  resultsBatchSize: number;
  resultsBatchWindowMs: number;
  shutdownGraceMs: number;
  /** On SIGTERM, how long readiness is down before HTTP stops taking requests. */
  shutdownReadyDelayMs: number;
  /** 1688 Open API gateway, e.g. https://gw.open.1688.com/openapi. */
  alibabaApiUrl: string;
  /** The buyer's access token for the trade APIs ('' when not given: the sweep needs one). */
  alibabaAccessToken: string;
  /** Refreshes the access token before it expires ('' when not given). */
  alibabaRefreshToken: string;
  /** Calls to the Open API per second, fleet-wide. */
  alibabaApiRateLimit: number;
  alibabaApiTimeoutMs: number;
  /** Retries of a call that was rate-limited (gw.Qos*), got a 5xx or no answer. */
  alibabaApiRetries: number;
  /** Whether pull and sweep run at all: off when ALIBABA_SYNC_ENABLED=false, and with development secrets against the real gateway. */
  alibabaSyncEnabled: boolean;
  /** When the fleet pulls the messages 1688 holds (push.query.messageList); 'off' for never. */
  pushPullCron: string;
  /** How far back the first pull looks (1688 keeps undelivered messages about 7 days). */
  pushPullLookbackMs: number;
  /** Each pull starts this much before the last watermark (1688's clock and ours differ). */
  pushPullOverlapMs: number;
  /** When the fleet compares 1688's orders with ours (getBuyerOrderList); 'off' for never. */
  reconcileCron: string;
  reconcileLookbackMs: number;
  reconcileOverlapMs: number;
  /** Linked orders whose open status has not changed for this long are read one by one (get.buyerView). */
  reconcileStaleAfterMs: number;
  /** At most this many stale orders are read per sweep. */
  reconcileStaleBatch: number;
  /** Inbox rows (the lasting dedupe of message ids) older than this many days are deleted; 0 keeps them all. */
  inboxRetentionDays: number;
}

export class ConfigError extends Error {}

/** Secrets' development values: used (loudly) outside production when a secret is not set. */
const DEV_SECRETS = {
  API_KEYS: 'dev-api-key',
  ADMIN_API_KEYS: 'dev-admin-key',
  ALIBABA_APP_KEY: 'dev-app-key',
  ALIBABA_APP_SECRET: 'dev-app-secret',
  WEBHOOK_SECRET: 'dev-webhook-secret',
} as const;
type SecretName = keyof typeof DEV_SECRETS;

/** Values that only mark where a secret goes (.env.example's); production refuses them. */
const PLACEHOLDERS = new Set(['change-me', 'changeme', 'change_me', ...Object.values(DEV_SECRETS)]);
/** Shortest secret or key production accepts. */
export const MIN_SECRET_LENGTH = 16;
/** Secrets whose length is checked (ALIBABA_APP_KEY is an identifier 1688 gives out, often 7 digits). */
const LENGTH_CHECKED = new Set<SecretName>(['API_KEYS', 'ADMIN_API_KEYS', 'ALIBABA_APP_SECRET', 'WEBHOOK_SECRET']);

/** Variables that may be given as a file instead (`<NAME>_FILE`), for secrets mounted by Docker or Kubernetes. */
export const FILE_VARIABLES = [
  'API_KEYS',
  'ADMIN_API_KEYS',
  'ALIBABA_APP_KEY',
  'ALIBABA_APP_SECRET',
  'ALIBABA_ACCESS_TOKEN',
  'ALIBABA_REFRESH_TOKEN',
  'WEBHOOK_SECRET',
  'DATABASE_URL',
  'DATABASE_MIGRATION_URL',
  'REDIS_URL',
] as const;

export const DEFAULT_ALIBABA_API_URL = 'https://gw.open.1688.com/openapi';

export interface LoadedConfig {
  config: AppConfig;
  /** Variables that fell back to development values (never their values). */
  devFallbacks: string[];
}

/** Reads `<NAME>_FILE` into `<NAME>` (trailing newline trimmed); both at once is an error. */
function withFileVariables(env: Env, errors: string[]): Env {
  const out: Env = { ...env };
  for (const name of FILE_VARIABLES) {
    const file = env[`${name}_FILE`]?.trim();
    if (!file) continue;
    if (env[name]?.trim()) {
      errors.push(`${name} and ${name}_FILE are both set; set one`);
      continue;
    }
    try {
      out[name] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      errors.push(`${name}_FILE names a file that cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  }
  return out;
}

export function loadConfig(given: Env = readEnvironment()): LoadedConfig {
  const errors: string[] = [];
  const env = withFileVariables(given, errors);
  const devFallbacks: string[] = [];
  const nodeEnv = env.NODE_ENV?.trim() || 'development';
  const production = nodeEnv === 'production';

  const text = (name: string, fallback: string): string => {
    const value = env[name]?.trim();
    return value ? value : fallback;
  };
  const secret = (name: SecretName): string => {
    const value = env[name]?.trim();
    if (value) {
      if (production) {
        for (const piece of name.endsWith('_KEYS')
          ? value
              .split(',')
              .map((k) => k.trim())
              .filter(Boolean)
          : [value]) {
          if (PLACEHOLDERS.has(piece.toLowerCase())) errors.push(`${name} holds a placeholder or development value; set a real one`);
          else if (LENGTH_CHECKED.has(name) && piece.length < MIN_SECRET_LENGTH)
            errors.push(`${name} ${name.endsWith('_KEYS') ? 'holds a key' : 'is'} shorter than ${MIN_SECRET_LENGTH} characters`);
        }
      }
      return value;
    }
    if (production) {
      errors.push(`${name} is required when NODE_ENV=production`);
      return '';
    }
    devFallbacks.push(name);
    return DEV_SECRETS[name];
  };
  /** A secret that may be absent (then ''); when given in production, not a placeholder or short. */
  const optionalSecret = (name: 'ALIBABA_ACCESS_TOKEN' | 'ALIBABA_REFRESH_TOKEN'): string => {
    const value = env[name]?.trim() ?? '';
    if (value && production) {
      if (PLACEHOLDERS.has(value.toLowerCase())) errors.push(`${name} holds a placeholder; set a real one or leave it out`);
      else if (value.length < MIN_SECRET_LENGTH) errors.push(`${name} is shorter than ${MIN_SECRET_LENGTH} characters`);
    }
    return value;
  };
  const keys = (name: 'API_KEYS' | 'ADMIN_API_KEYS'): string[] => {
    const list = secret(name)
      .split(',')
      .map((key) => key.trim())
      .filter(Boolean);
    if (env[name]?.trim() && list.length === 0) errors.push(`${name} holds no key`);
    return list;
  };
  const int = (name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    if (!/^-?\d+$/.test(raw)) {
      errors.push(`${name} must be an integer, got "${raw}"`);
      return fallback;
    }
    const value = Number(raw);
    if (value < min || value > max) {
      errors.push(`${name} must be between ${min} and ${max}, got ${value}`);
      return fallback;
    }
    return value;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const raw = env[name]?.trim().toLowerCase();
    if (!raw) return fallback;
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    errors.push(`${name} must be true or false, got "${env[name]}"`);
    return fallback;
  };
  const url = (name: string, fallback: string, protocols: string[]): string => {
    const value = text(name, fallback);
    try {
      const parsed = new URL(value);
      if (!protocols.includes(parsed.protocol)) {
        errors.push(`${name} must use ${protocols.join(' or ')}, got "${parsed.protocol}"`);
      }
    } catch {
      errors.push(`${name} is not a valid URL`);
    }
    return value;
  };
  const cron = (name: string, fallback: string): string => {
    const value = text(name, fallback);
    const fields = value.split(/\s+/).length;
    if (fields < 5 || fields > 6) {
      errors.push(`${name} must have 5 or 6 fields, got "${value}"`);
      return value;
    }
    try {
      CronExpressionParser.parse(value);
    } catch (error) {
      errors.push(`${name} is not a cron pattern ("${value}": ${(error as Error).message})`);
    }
    return value;
  };

  const cronOrOff = (name: string, fallback: string): string =>
    text(name, fallback).toLowerCase() === 'off' ? 'off' : cron(name, fallback);

  const role = text('ROLE', 'all');
  if (!['all', 'api', 'worker'].includes(role)) errors.push(`ROLE must be all, api or worker, got "${role}"`);

  const queuePrefix = text('QUEUE_PREFIX', 'ordersync');
  if (!/^(?:[A-Za-z0-9_-]+|\{[A-Za-z0-9_-]+\})$/.test(queuePrefix))
    errors.push('QUEUE_PREFIX may hold only letters, digits, "_" and "-" (or be one hash tag of them: {ordersync})');
  const hostPorts = (name: string): { host: string; port: number }[] => {
    const raw = env[name]?.trim();
    if (!raw) return [];
    return raw.split(',').flatMap((entry) => {
      const match = /^\s*(\[[^\]]+\]|[^:\s]+):(\d{1,5})\s*$/.exec(entry);
      if (!match || Number(match[2]) < 1 || Number(match[2]) > 65_535) {
        errors.push(`${name} must be host:port,host:port,..., got "${entry.trim()}"`);
        return [];
      }
      return [{ host: match[1].replace(/^\[|\]$/g, ''), port: Number(match[2]) }];
    });
  };
  const redisClusterNodes = hostPorts('REDIS_CLUSTER_NODES');
  const redisSentinels = hostPorts('REDIS_SENTINELS');
  const redisSentinelName = text('REDIS_SENTINEL_NAME', '');
  if (redisClusterNodes.length > 0 && redisSentinels.length > 0)
    errors.push('REDIS_CLUSTER_NODES and REDIS_SENTINELS are both set; a Redis is one or the other');
  if (redisSentinels.length > 0 && !redisSentinelName)
    errors.push('REDIS_SENTINEL_NAME is required with REDIS_SENTINELS (the name of the master they watch)');

  const logLevel = text('LOG_LEVEL', 'info');
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    errors.push(`LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "${logLevel}"`);
  }
  const logFormatGiven = text('LOG_FORMAT', '');
  if (!['', 'json', 'pretty'].includes(logFormatGiven)) errors.push(`LOG_FORMAT must be json or pretty, got "${logFormatGiven}"`);
  const logFormat: 'json' | 'pretty' =
    logFormatGiven === 'pretty' || (logFormatGiven === '' && process.stdout.isTTY === true) ? 'pretty' : 'json';
  for (const replaced of ['BACKLOG_READY_THRESHOLD', 'BACKLOG_READY_MAX_AGE_MS']) {
    if (env[replaced]?.trim())
      errors.push(
        `${replaced} is gone: readiness no longer looks at the backlog; set BACKLOG_MAX_WAITING / BACKLOG_MAX_AGE_MS for /health/backlog`,
      );
  }

  const config: AppConfig = {
    nodeEnv,
    production,
    role: role as Role,
    port: int('PORT', 3000, 0, 65535),
    databaseUrl: url('DATABASE_URL', 'postgres://postgres:postgres@127.0.0.1:5432/ordersync', ['postgres:', 'postgresql:']),
    databasePoolMax: int('DATABASE_POOL_MAX', 10, 1, 20),
    redisUrl: url('REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']),
    redisClusterNodes,
    redisSentinels,
    redisSentinelName,
    redisMinReplicasAck: int('REDIS_MIN_REPLICAS_ACK', 0, 0, 10),
    redisReplicasAckTimeoutMs: int('REDIS_REPLICAS_ACK_TIMEOUT_MS', 500, 1, 60_000),
    databaseMigrationUrl: env.DATABASE_MIGRATION_URL?.trim() ? url('DATABASE_MIGRATION_URL', '', ['postgres:', 'postgresql:']) : '',
    migrateOnStart: bool('MIGRATE_ON_START', true),
    queuePrefix,
    alibabaAppKey: secret('ALIBABA_APP_KEY'),
    alibabaAppSecret: secret('ALIBABA_APP_SECRET'),
    webhookSecret: secret('WEBHOOK_SECRET'),
    apiKeys: keys('API_KEYS'),
    adminApiKeys: keys('ADMIN_API_KEYS'),
    externalApiUrl: url('EXTERNAL_API_URL', 'http://127.0.0.1:4000/orders', ['http:', 'https:']),
    externalApiRateLimit: int('EXTERNAL_API_RATE_LIMIT', 50, 1, 100_000),
    externalApiTimeoutMs: int('EXTERNAL_API_TIMEOUT_MS', 10_000, 1, 600_000),
    dispatchCron: cron('DISPATCH_CRON', '*/30 * * * * *'),
    dispatchMaxAttempts: int('DISPATCH_MAX_ATTEMPTS', DEFAULT_DISPATCH_MAX_ATTEMPTS, 1, 100),
    dispatchRetryAfterMaxMs: int('DISPATCH_RETRY_AFTER_MAX_MS', 60_000, 0, 3_600_000),
    dispatchEnabled: bool('DISPATCH_ENABLED', true),
    dispatchConcurrency: int('DISPATCH_CONCURRENCY', 50, 1, 1_000),
    dispatchClaimBatch: int('DISPATCH_CLAIM_BATCH', 200, 1, 10_000),
    dispatchLeaseMs: int('DISPATCH_LEASE_MS', 120_000, 1_000, 86_400_000),
    dispatchRecoveryIntervalMs: int('DISPATCH_RECOVERY_INTERVAL_MS', 15_000, 500, 3_600_000),
    dispatchLockMs: int('DISPATCH_LOCK_MS', 30_000, 1_000, 600_000),
    backlogMaxWaiting: int('BACKLOG_MAX_WAITING', 50_000, 1),
    backlogMaxAgeMs: int('BACKLOG_MAX_AGE_MS', 300_000, 1_000),
    healthCheckTimeoutMs: int('HEALTH_CHECK_TIMEOUT_MS', 1_000, 50, 60_000),
    workerHttpPort: int('WORKER_HTTP_PORT', 0, 0, 65535),
    bodyLimitBytes: int('BODY_LIMIT_BYTES', 1_048_576, 1024, 64 * 1_048_576),
    requestTimeoutMs: int('REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000),
    logLevel,
    logFormat,
    enqueueTimeoutMs: int('ENQUEUE_TIMEOUT_MS', 2_000, 10, 60_000),
    orderEventsPartitions: int('ORDER_EVENTS_PARTITIONS', 1, 1, 64),
    publishBatchWindowMs: int('PUBLISH_BATCH_WINDOW_MS', 1, 0, 1_000),
    publishBatchMaxMessages: int('PUBLISH_BATCH_MAX_MESSAGES', 200, 1, 5_000),
    applyBatchSize: int('APPLY_BATCH_SIZE', 1_000, 1, 10_000),
    applyBatchWindowMs: int('APPLY_BATCH_WINDOW_MS', 20, 0, 10_000),
    applyConcurrency: int('APPLY_CONCURRENCY', 64, 1, 10_000),
    resultsBatchSize: int('RESULTS_BATCH_SIZE', 200, 1, 10_000),
    resultsBatchWindowMs: int('RESULTS_BATCH_WINDOW_MS', 10, 0, 10_000),
    shutdownGraceMs: int('SHUTDOWN_GRACE_MS', 25_000, 0, 600_000),
    shutdownReadyDelayMs: int('SHUTDOWN_READY_DELAY_MS', 0, 0, 120_000),
    alibabaApiUrl: url('ALIBABA_API_URL', DEFAULT_ALIBABA_API_URL, ['http:', 'https:']),
    alibabaAccessToken: optionalSecret('ALIBABA_ACCESS_TOKEN'),
    alibabaRefreshToken: optionalSecret('ALIBABA_REFRESH_TOKEN'),
    alibabaApiRateLimit: int('ALIBABA_API_RATE_LIMIT', 10, 1, 10_000),
    alibabaApiTimeoutMs: int('ALIBABA_API_TIMEOUT_MS', 10_000, 100, 120_000),
    alibabaApiRetries: int('ALIBABA_API_RETRIES', 6, 0, 50),
    alibabaSyncEnabled: bool('ALIBABA_SYNC_ENABLED', true),
    pushPullCron: cronOrOff('PUSH_PULL_CRON', '0 * * * * *'),
    pushPullLookbackMs: int('PUSH_PULL_LOOKBACK_MS', 7 * 86_400_000, 60_000, 90 * 86_400_000),
    pushPullOverlapMs: int('PUSH_PULL_OVERLAP_MS', 10 * 60_000, 0, 86_400_000),
    reconcileCron: cronOrOff('RECONCILE_CRON', '0 */10 * * * *'),
    reconcileLookbackMs: int('RECONCILE_LOOKBACK_MS', 86_400_000, 60_000, 90 * 86_400_000),
    reconcileOverlapMs: int('RECONCILE_OVERLAP_MS', 10 * 60_000, 0, 86_400_000),
    reconcileStaleAfterMs: int('RECONCILE_STALE_AFTER_MS', 6 * 3_600_000, 60_000, 90 * 86_400_000),
    reconcileStaleBatch: int('RECONCILE_STALE_BATCH', 200, 0, 100_000),
    inboxRetentionDays: int('INBOX_RETENTION_DAYS', 90, 0, 3_650),
  };
  // Development secrets mean nothing to the real 1688: calling it with them would only fail every minute.
  if (
    config.alibabaApiUrl === DEFAULT_ALIBABA_API_URL &&
    (devFallbacks.includes('ALIBABA_APP_SECRET') || devFallbacks.includes('ALIBABA_APP_KEY'))
  ) {
    config.alibabaSyncEnabled = false;
  }

  if (config.dispatchLockMs <= config.externalApiTimeoutMs) {
    errors.push(
      `DISPATCH_LOCK_MS (${config.dispatchLockMs}) must be longer than EXTERNAL_API_TIMEOUT_MS (${config.externalApiTimeoutMs}), or a slow call would be taken over while still in flight`,
    );
  }
  // A message id forgotten before 1688 stops offering it for pulling (7 days) would be applied again.
  const pullHorizonMs = Math.max(7 * 86_400_000, config.pushPullLookbackMs);
  if (config.inboxRetentionDays !== 0 && config.inboxRetentionDays * 86_400_000 <= pullHorizonMs) {
    errors.push(
      `INBOX_RETENTION_DAYS (${config.inboxRetentionDays}) must be 0 (keep all) or longer than 1688 keeps messages for pulling and PUSH_PULL_LOOKBACK_MS (${Math.ceil(pullHorizonMs / 86_400_000)} days)`,
    );
  }
  if (errors.length > 0) throw new ConfigError(`Invalid configuration:\n  - ${errors.join('\n  - ')}`);
  return { config, devFallbacks };
}

/** The database name in DATABASE_URL, e.g. "ordersync". */
export function databaseName(databaseUrl: string): string {
  return decodeURIComponent(new URL(databaseUrl).pathname.replace(/^\//, '')) || 'postgres';
}
