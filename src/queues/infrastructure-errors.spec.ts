import { describe, expect, it } from 'vitest';
import { isContention, isDataError, isInfrastructureError, isPostgresUnavailable, isRedisUnavailable } from './infrastructure-errors.js';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('infrastructure errors', () => {
  it.each([
    ['connection refused', withCode('ECONNREFUSED'), true],
    ['connection reset', withCode('ECONNRESET'), true],
    ['admin shutdown', withCode('57P01'), true],
    ['cannot connect now (crash recovery)', withCode('57P03'), true],
    ['too many connections', withCode('53300'), true],
    ['database not accepting connections (ALLOW_CONNECTIONS false)', withCode('55000'), true],
    ['read-only transaction during a failover', withCode('25006'), true],
    ['connection failure', withCode('08006'), true],
    ['pool timeout', new Error('timeout exceeded when trying to connect'), true],
    ['connection terminated', new Error('Connection terminated unexpectedly'), true],
    ['wrapped by TypeORM', Object.assign(new Error('query failed'), { driverError: { code: '57P01' } }), true],
    [
      'TypeORM query runner released under a transaction',
      Object.assign(new Error('Query runner already released. Cannot run queries anymore.'), { name: 'QueryRunnerAlreadyReleasedError' }),
      true,
    ],
    [
      'TypeORM provider released (message only)',
      new Error(
        'Database connection provided by a query runner was already released, cannot continue to use its querying methods anymore.',
      ),
      true,
    ],
    ['check violation', withCode('23514'), false],
    ['value too long', withCode('22001'), false],
    ['undefined column', withCode('42703'), false],
    ['a plain bug', new Error('no order for message 1688/1 after creating placeholders'), false],
    ['a TypeError', new TypeError("Cannot read properties of undefined (reading 'id')"), false],
  ])('Postgres unavailable: %s → %s', (_name, error, expected) => {
    expect(isPostgresUnavailable(error)).toBe(expected);
  });

  it.each([
    [
      'max retries',
      Object.assign(new Error('Reached the max retries per request limit (which is 0).'), { name: 'MaxRetriesPerRequestError' }),
      true,
    ],
    ['closed', new Error('Connection is closed.'), true],
    ['offline queue off', new Error("Stream isn't writeable and enableOfflineQueue options is false"), true],
    ['a plain bug', new Error('boom'), false],
  ])('Redis unavailable: %s → %s', (_name, error, expected) => {
    expect(isRedisUnavailable(error)).toBe(expected);
  });

  it('counts deadlocks and serialization failures as contention, not as the work failing', () => {
    expect(isContention(withCode('40P01'))).toBe(true);
    expect(isContention(withCode('40001'))).toBe(true);
    expect(isInfrastructureError(withCode('40P01'))).toBe(true);
    expect(isInfrastructureError(new Error('bad data'))).toBe(false);
  });

  it.each([
    ['NUL in text', withCode('22021'), true],
    ['numeric out of range', withCode('22003'), true],
    ['datetime out of range', withCode('22008'), true],
    ['check violation', withCode('23514'), true],
    ['wrapped by TypeORM', Object.assign(new Error('query failed'), { driverError: { code: '22P02' } }), true],
    ['undefined column (our bug)', withCode('42703'), false],
    ['a plain bug', new Error('no order for message 1688/1 after creating placeholders'), false],
    ['connection lost', withCode('ECONNRESET'), false],
    [
      'query runner released',
      Object.assign(new Error('Query runner already released.'), { name: 'QueryRunnerAlreadyReleasedError' }),
      false,
    ],
  ])('the data itself refused: %s → %s', (_name, error, expected) => {
    expect(isDataError(error)).toBe(expected);
  });
});
