import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, databaseName, loadConfig } from './app-config.js';
import { readEnvironment } from './environment.js';

/** Secrets production accepts: long enough, none a placeholder. */
const PRODUCTION = {
  NODE_ENV: 'production',
  ALIBABA_APP_KEY: '1234567',
  ALIBABA_APP_SECRET: 'a-real-app-secret-1234',
  WEBHOOK_SECRET: 'a-real-webhook-secret-1234',
  API_KEYS: 'client-key-0123456789',
  ADMIN_API_KEYS: 'admin-key-0123456789',
};

describe('loadConfig', () => {
  it('gives the contract defaults and names the development fallbacks', () => {
    const { config, devFallbacks } = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.databaseUrl).toBe('postgres://postgres:postgres@127.0.0.1:5432/ordersync');
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(config.role).toBe('all');
    expect(config.databasePoolMax).toBeLessThanOrEqual(10);
    expect(devFallbacks).toEqual(['ALIBABA_APP_KEY', 'ALIBABA_APP_SECRET', 'WEBHOOK_SECRET', 'API_KEYS', 'ADMIN_API_KEYS']);
  });

  it('refuses to start in production without a secret, naming it', () => {
    const { ALIBABA_APP_SECRET: _secret, ...rest } = PRODUCTION;
    expect(() => loadConfig(rest)).toThrow(/ALIBABA_APP_SECRET is required/);
    const { ADMIN_API_KEYS: _admin, ...noAdmin } = PRODUCTION;
    expect(() => loadConfig(noAdmin)).toThrow(/ADMIN_API_KEYS is required/);
  });

  it('starts in production when every secret is given', () => {
    const { config, devFallbacks } = loadConfig({ ...PRODUCTION, API_KEYS: ' client-key-0123456789, other-client-key-0123 ,' });
    expect(devFallbacks).toEqual([]);
    expect(config.apiKeys).toEqual(['client-key-0123456789', 'other-client-key-0123']);
    expect(config.adminApiKeys).toEqual(['admin-key-0123456789']);
  });

  it.each([
    ['WEBHOOK_SECRET', 'change-me', /WEBHOOK_SECRET holds a placeholder/],
    ['ALIBABA_APP_SECRET', 'CHANGE-ME', /ALIBABA_APP_SECRET holds a placeholder/],
    ['API_KEYS', 'client-key-0123456789,change-me', /API_KEYS holds a placeholder/],
    ['ADMIN_API_KEYS', 'dev-admin-key', /ADMIN_API_KEYS holds a placeholder or development value/],
    ['WEBHOOK_SECRET', 'dev-webhook-secret', /WEBHOOK_SECRET holds a placeholder or development value/],
    ['WEBHOOK_SECRET', 'short', /WEBHOOK_SECRET is shorter than 16 characters/],
    ['API_KEYS', 'client-key-0123456789,abc', /API_KEYS holds a key shorter than 16 characters/],
    ['ADMIN_API_KEYS', '123456789012345', /ADMIN_API_KEYS holds a key shorter than 16 characters/],
  ])('refuses %s=%s in production', (name, value, message) => {
    expect(() => loadConfig({ ...PRODUCTION, [name]: value })).toThrow(message);
    // Outside production the same value starts (loudly, for fallbacks).
    expect(() => loadConfig({ [name]: value })).not.toThrow();
  });

  it('accepts a 1688 app key of 7 digits: an identifier, not a secret to be long', () => {
    expect(loadConfig({ ...PRODUCTION, ALIBABA_APP_KEY: '1234567' }).config.alibabaAppKey).toBe('1234567');
  });

  it('reads <NAME>_FILE for secrets, and refuses both forms at once or an unreadable file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ordersync-config-'));
    try {
      writeFileSync(join(dir, 'webhook'), 'a-webhook-secret-from-a-file\n');
      writeFileSync(join(dir, 'keys'), 'file-client-key-0123456789');
      const { config } = loadConfig({
        ...PRODUCTION,
        WEBHOOK_SECRET: '',
        WEBHOOK_SECRET_FILE: join(dir, 'webhook'),
        API_KEYS: '',
        API_KEYS_FILE: join(dir, 'keys'),
      });
      expect(config.webhookSecret).toBe('a-webhook-secret-from-a-file');
      expect(config.apiKeys).toEqual(['file-client-key-0123456789']);
      expect(() => loadConfig({ ...PRODUCTION, WEBHOOK_SECRET_FILE: join(dir, 'webhook') })).toThrow(
        /WEBHOOK_SECRET and WEBHOOK_SECRET_FILE are both set/,
      );
      expect(() => loadConfig({ ...PRODUCTION, WEBHOOK_SECRET: '', WEBHOOK_SECRET_FILE: join(dir, 'missing') })).toThrow(
        /WEBHOOK_SECRET_FILE names a file that cannot be read \(ENOENT\)/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fills in from a .env file in the working directory; the environment wins', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ordersync-env-'));
    try {
      writeFileSync(join(dir, '.env'), 'PORT=4321\nLOG_LEVEL=debug\n# a comment\nROLE="api"\n');
      const env = readEnvironment(dir, { LOG_LEVEL: 'warn' });
      expect(loadConfig(env).config).toMatchObject({ port: 4321, logLevel: 'warn', role: 'api' });
      expect(readEnvironment(join(dir, 'nowhere'), { PORT: '1' })).toEqual({ PORT: '1' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('logs JSON off a terminal, pretty when asked, and refuses another format', () => {
    expect(loadConfig({ LOG_FORMAT: 'json' }).config.logFormat).toBe('json');
    expect(loadConfig({ LOG_FORMAT: 'pretty' }).config.logFormat).toBe('pretty');
    // Vitest's workers write to pipes, as a container's stdout is.
    expect(loadConfig({}).config.logFormat).toBe(process.stdout.isTTY ? 'pretty' : 'json');
    expect(() => loadConfig({ LOG_FORMAT: 'text' })).toThrow(/LOG_FORMAT must be json or pretty/);
  });

  it('refuses the readiness backlog variables it no longer reads, saying what replaced them', () => {
    expect(() => loadConfig({ BACKLOG_READY_THRESHOLD: '10' })).toThrow(/BACKLOG_MAX_WAITING/);
  });

  it.each([
    ['PORT', '-1', /PORT must be between/],
    ['PORT', 'abc', /PORT must be an integer/],
    ['DATABASE_URL', 'not a url', /DATABASE_URL is not a valid URL/],
    ['DATABASE_URL', 'mysql://x/y', /DATABASE_URL must use postgres/],
    ['REDIS_URL', 'http://x', /REDIS_URL must use redis/],
    ['EXTERNAL_API_URL', '::', /EXTERNAL_API_URL is not a valid URL/],
    ['EXTERNAL_API_RATE_LIMIT', '0', /EXTERNAL_API_RATE_LIMIT must be between/],
    ['DISPATCH_MAX_ATTEMPTS', '-3', /DISPATCH_MAX_ATTEMPTS must be between/],
    ['DATABASE_POOL_MAX', '50', /DATABASE_POOL_MAX must be between 1 and 20/],
    ['ROLE', 'both', /ROLE must be all, api or worker/],
    ['DISPATCH_CRON', '* *', /DISPATCH_CRON must have 5 or 6 fields/],
    ['DISPATCH_CRON', '99 * * * *', /DISPATCH_CRON is not a cron pattern/],
    ['DISPATCH_RETRY_AFTER_MAX_MS', '-1', /DISPATCH_RETRY_AFTER_MAX_MS must be between/],
    ['REQUEST_TIMEOUT_MS', '10', /REQUEST_TIMEOUT_MS must be between/],
    ['ORDER_EVENTS_PARTITIONS', '0', /ORDER_EVENTS_PARTITIONS must be between 1 and 64/],
    ['INBOX_RETENTION_DAYS', '7', /INBOX_RETENTION_DAYS \(7\) must be 0 \(keep all\) or longer than .* \(7 days\)/],
    ['INBOX_RETENTION_DAYS', '-1', /INBOX_RETENTION_DAYS must be between/],
  ])('rejects %s=%s', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });

  it('keeps the inbox longer than the pull looks back', () => {
    expect(() => loadConfig({ INBOX_RETENTION_DAYS: '20', PUSH_PULL_LOOKBACK_MS: String(30 * 86_400_000) })).toThrow(/\(30 days\)/);
    expect(loadConfig({ INBOX_RETENTION_DAYS: '8' }).config.inboxRetentionDays).toBe(8);
    expect(loadConfig({ INBOX_RETENTION_DAYS: '0' }).config.inboxRetentionDays).toBe(0);
    expect(loadConfig({}).config.inboxRetentionDays).toBe(90);
  });

  it('reads the database name from the URL', () => {
    expect(databaseName('postgres://u:p@h:5432/ordersync_test')).toBe('ordersync_test');
  });
});
