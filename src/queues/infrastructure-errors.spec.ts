import { describe, expect, it } from 'vitest';
import { isTransientDatabaseError } from './database-errors.js';

describe('isTransientDatabaseError', () => {
  it.each([
    ['connection refused', { code: 'ECONNREFUSED' }, true],
    ['deadlock', { code: '40P01' }, true],
    ['admin shutdown', { code: '57P01' }, true],
    ['too many connections', { code: '53300' }, true],
    ['database not accepting connections (ALLOW_CONNECTIONS false)', { code: '55000' }, true],
    ['lock not available', { code: '55P03' }, true],
    ['read-only transaction during a failover', { code: '25006' }, true],
    ['no code at all', new Error('timeout exceeded when trying to connect'), true],
    ['check violation', { code: '23514' }, false],
    ['value too long', { code: '22001' }, false],
    ['undefined column', { code: '42703' }, false],
  ])('%s → %s', (_name, error, transient) => {
    expect(isTransientDatabaseError(error)).toBe(transient);
  });
});
