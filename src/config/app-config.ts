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
  /** Key prefix for every BullMQ queue; lets several deployments or test runs share one Redis. */
  queuePrefix: string;
  alibabaAppKey: string;
  alibabaAppSecret: string;
  webhookSecret: string;
  apiKeys: string[];
  externalApiUrl: string;
  externalApiRateLimit: number;
  externalApiTimeoutMs: number;
  dispatchCron: string;
  dispatchMaxAttempts: number;
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
  backlogReadyThreshold: number;
  /** Readiness also goes down when a queue's oldest waiting job is older than this. */
  backlogReadyMaxAgeMs: number;
  /** Longest a readiness check waits for a dependency before calling it down. */
  healthCheckTimeoutMs: number;
  /** ROLE=worker: a small HTTP port for /health and /metrics only (0: none). */
  workerHttpPort: number;
  /** Largest request body accepted, in bytes. */
  bodyLimitBytes: number;
  logLevel: string;
  /** How long a request may wait for Redis to accept a webhook before answering 503. */
  enqueueTimeoutMs: number;
  /** Messages applied per database round and the longest a message waits for its batch. */
  applyBatchSize: number;
  applyBatchWindowMs: number;
  shutdownGraceMs: number;
  /** On SIGTERM, how long readiness is down before HTTP stops taking requests. */
  shutdownReadyDelayMs: number;
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

const DEV_SECRETS = {
  ALIBABA_APP_KEY: 'dev-app-key',
  ALIBABA_APP_SECRET: 'dev-app-secret',
  WEBHOOK_SECRET: 'dev-webhook-secret',
  API_KEYS: 'dev-api-key',
} as const;

export interface LoadedConfig {
  config: AppConfig;
  /** Variables that fell back to development values (never their values). */
  devFallbacks: string[];
}

export function loadConfig(env: Env = process.env): LoadedConfig {
  const errors: string[] = [];
  const devFallbacks: string[] = [];
  const nodeEnv = env.NODE_ENV?.trim() || 'development';
  const production = nodeEnv === 'production';

  const text = (name: string, fallback: string): string => {
    const value = env[name]?.trim();
    return value ? value : fallback;
  };
  const secret = (name: keyof typeof DEV_SECRETS): string => {
    const value = env[name]?.trim();
    if (value) return value;
    if (production) {
      errors.push(`${name} is required when NODE_ENV=production`);
      return '';
    }
    devFallbacks.push(name);
    return DEV_SECRETS[name];
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

  const role = text('ROLE', 'all');
  if (!['all', 'api', 'worker'].includes(role)) errors.push(`ROLE must be all, api or worker, got "${role}"`);

  const dispatchCron = text('DISPATCH_CRON', '*/30 * * * * *');
  const cronFields = dispatchCron.split(/\s+/).length;
  if (cronFields < 5 || cronFields > 6) errors.push(`DISPATCH_CRON must have 5 or 6 fields, got "${dispatchCron}"`);

  const queuePrefix = text('QUEUE_PREFIX', 'ordersync');
  if (!/^[A-Za-z0-9_-]+$/.test(queuePrefix)) errors.push('QUEUE_PREFIX may hold only letters, digits, "_" and "-"');

  const apiKeys = secret('API_KEYS')
    .split(',')
    .map((key) => key.trim())
    .filter(Boolean);
  if (production && env.API_KEYS?.trim() && apiKeys.length === 0) errors.push('API_KEYS holds no key');

  const logLevel = text('LOG_LEVEL', 'info');
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    errors.push(`LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "${logLevel}"`);
  }

  const config: AppConfig = {
    nodeEnv,
    production,
    role: role as Role,
    port: int('PORT', 3000, 0, 65535),
    databaseUrl: url('DATABASE_URL', 'postgres://postgres:postgres@127.0.0.1:5432/ordersync', ['postgres:', 'postgresql:']),
    databasePoolMax: int('DATABASE_POOL_MAX', 10, 1, 20),
    redisUrl: url('REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']),
    queuePrefix,
    alibabaAppKey: secret('ALIBABA_APP_KEY'),
    alibabaAppSecret: secret('ALIBABA_APP_SECRET'),
    webhookSecret: secret('WEBHOOK_SECRET'),
    apiKeys,
    externalApiUrl: url('EXTERNAL_API_URL', 'http://127.0.0.1:4000/orders', ['http:', 'https:']),
    externalApiRateLimit: int('EXTERNAL_API_RATE_LIMIT', 50, 1, 100_000),
    externalApiTimeoutMs: int('EXTERNAL_API_TIMEOUT_MS', 10_000, 1, 600_000),
    dispatchCron,
    dispatchMaxAttempts: int('DISPATCH_MAX_ATTEMPTS', 8, 1, 100),
    dispatchEnabled: bool('DISPATCH_ENABLED', true),
    dispatchConcurrency: int('DISPATCH_CONCURRENCY', 50, 1, 1_000),
    dispatchClaimBatch: int('DISPATCH_CLAIM_BATCH', 200, 1, 10_000),
    dispatchLeaseMs: int('DISPATCH_LEASE_MS', 120_000, 1_000, 86_400_000),
    dispatchRecoveryIntervalMs: int('DISPATCH_RECOVERY_INTERVAL_MS', 15_000, 500, 3_600_000),
    dispatchLockMs: int('DISPATCH_LOCK_MS', 30_000, 1_000, 600_000),
    backlogReadyThreshold: int('BACKLOG_READY_THRESHOLD', 50_000, 1),
    backlogReadyMaxAgeMs: int('BACKLOG_READY_MAX_AGE_MS', 300_000, 1_000),
    healthCheckTimeoutMs: int('HEALTH_CHECK_TIMEOUT_MS', 1_000, 50, 60_000),
    workerHttpPort: int('WORKER_HTTP_PORT', 0, 0, 65535),
    bodyLimitBytes: int('BODY_LIMIT_BYTES', 1_048_576, 1024, 64 * 1_048_576),
    logLevel,
    enqueueTimeoutMs: int('ENQUEUE_TIMEOUT_MS', 2_000, 10, 60_000),
    applyBatchSize: int('APPLY_BATCH_SIZE', 1_000, 1, 10_000),
    applyBatchWindowMs: int('APPLY_BATCH_WINDOW_MS', 20, 0, 10_000),
    shutdownGraceMs: int('SHUTDOWN_GRACE_MS', 25_000, 0, 600_000),
    shutdownReadyDelayMs: int('SHUTDOWN_READY_DELAY_MS', 0, 0, 120_000),
  };

  if (config.dispatchLockMs <= config.externalApiTimeoutMs) {
    errors.push(`DISPATCH_LOCK_MS (${config.dispatchLockMs}) must be longer than EXTERNAL_API_TIMEOUT_MS (${config.externalApiTimeoutMs}), or a slow call would be taken over while still in flight`);
  }
  if (errors.length > 0) throw new ConfigError(`Invalid configuration:\n  - ${errors.join('\n  - ')}`);
  return { config, devFallbacks };
}

/** The database name in DATABASE_URL, e.g. "ordersync". */
export function databaseName(databaseUrl: string): string {
  return decodeURIComponent(new URL(databaseUrl).pathname.replace(/^\//, '')) || 'postgres';
}
