/**
 * Whether a database error can pass by itself (connection lost, deadlock, server restarting)
 * and so deserves a retry, or says something about the data that no retry will change.
 */
export function isTransientDatabaseError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return true; // socket errors, timeouts, pool exhaustion
  if (/^[A-Z]+$/.test(code)) return true; // ECONNREFUSED, ECONNRESET, ETIMEDOUT…
  // SQLSTATE classes: 08 connection, 40 rollback (deadlock, serialization), 53 resources,
  // 55 object not in prerequisite state (database not accepting connections, lock not
  // available, object in use), 57 operator intervention (shutdown), 58 system error;
  // and 25006, a read-only transaction (a failover not finished yet).
  return ['08', '40', '53', '55', '57', '58'].includes(code.slice(0, 2)) || code === '25006';
}
