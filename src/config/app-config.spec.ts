import { describe, expect, it } from 'vitest';
import { ConfigError, databaseName, loadConfig } from './app-config.js';

describe('loadConfig', () => {
  it('gives the contract defaults and names the development fallbacks', () => {
    const { config, devFallbacks } = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.databaseUrl).toBe('postgres://postgres:postgres@127.0.0.1:5432/ordersync');
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(config.role).toBe('all');
    expect(config.databasePoolMax).toBeLessThanOrEqual(10);
    expect(devFallbacks).toEqual(['API_KEYS', 'ALIBABA_APP_KEY', 'ALIBABA_APP_SECRET', 'WEBHOOK_SECRET']);
  });

  it('refuses to start in production without a secret, naming it', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', ALIBABA_APP_KEY: 'k', API_KEYS: 'a', WEBHOOK_SECRET: 'w' })).toThrow(
      /ALIBABA_APP_SECRET is required/,
    );
  });

  it('starts in production when every secret is given', () => {
    const { config, devFallbacks } = loadConfig({
      NODE_ENV: 'production',
      ALIBABA_APP_KEY: 'k',
      ALIBABA_APP_SECRET: 's',
      WEBHOOK_SECRET: 'w',
      API_KEYS: 'one, two ,',
    });
    expect(devFallbacks).toEqual([]);
    expect(config.apiKeys).toEqual(['one', 'two']);
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
  ])('rejects %s=%s', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });

  it('reads the database name from the URL', () => {
    expect(databaseName('postgres://u:p@h:5432/ordersync_test')).toBe('ordersync_test');
  });
});
