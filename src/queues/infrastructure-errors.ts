/**
 * Which errors say that our own infrastructure is away (Postgres, Redis), as opposed to
 * something about the work itself. The first kind never uses up a job's attempts: the job waits
 * and is taken up again once the dependency is back (see JobFailurePolicy).
 */

/** Node's network errors: the other end is not there, or went away. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
]);

/** node-postgres's own messages for a connection that could not be had or was lost. */
const PG_CONNECTION_MESSAGES = [
  'timeout exceeded when trying to connect',
  'connection terminated',
  'client has encountered a connection error',
  'client was closed and is not queryable',
  'cannot use a pool after calling end',
];

/**
 * TypeORM's errors for a query runner whose connection was released under it: the postgres
 * driver releases it when node-postgres reports the connection lost mid-transaction.
 */
const TYPEORM_RELEASED_ERRORS = new Set(['QueryRunnerAlreadyReleasedError', 'QueryRunnerProviderAlreadyReleasedError']);
const TYPEORM_RELEASED_MESSAGES = ['query runner already released', 'connection provided by a query runner was already released'];

/** ioredis and BullMQ messages for a Redis that is away. */
const REDIS_MESSAGES = [
  'connection is closed',
  "stream isn't writeable",
  'reached the max retries per request limit',
  'connection in subscriber mode',
  'clusterallfailederror',
  'failed to refresh slots cache',
  'all sentinels are unreachable',
  "readonly you can't write against a read only replica",
];

function errorCode(error: unknown): string | null {
  const own = (error as { code?: unknown } | null)?.code;
  if (typeof own === 'string') return own;
  // TypeORM wraps driver errors (QueryFailedError) and keeps the original.
  const driver = (error as { driverError?: { code?: unknown } } | null)?.driverError?.code;
  return typeof driver === 'string' ? driver : null;
}

function message(error: unknown): string {
  return String((error as { message?: unknown } | null)?.message ?? error).toLowerCase();
}

/**
 * SQLSTATEs that mean the database cannot take work right now: 08 connection exceptions,
 * 53 insufficient resources (too many connections), 57P0x shutdown and crash recovery, 55000
 * when the database does not accept connections (ALLOW_CONNECTIONS false), 25006 a read-only
 * transaction (a failover that has not finished), 25P03 a session ended for idling in a
 * transaction, 58 system errors.
 */
function isUnavailableSqlState(code: string): boolean {
  return (
    code.startsWith('08') ||
    code.startsWith('53') ||
    code.startsWith('57P') ||
    code.startsWith('58') ||
    code === '55000' ||
    code === '25006' ||
    code === '25P03'
  );
}

/** Postgres is away or cannot take work: a connection refused, lost, timed out, or a server shutting down. */
export function isPostgresUnavailable(error: unknown): boolean {
  const code = errorCode(error);
  if (code !== null && /^[0-9A-Z]{5}$/.test(code) && !NETWORK_CODES.has(code)) return isUnavailableSqlState(code);
  if (code !== null && NETWORK_CODES.has(code)) return true;
  const name = (error as { name?: unknown } | null)?.name;
  if (typeof name === 'string' && TYPEORM_RELEASED_ERRORS.has(name)) return true;
  const text = message(error);
  return PG_CONNECTION_MESSAGES.some((m) => text.includes(m)) || TYPEORM_RELEASED_MESSAGES.some((m) => text.includes(m));
}

/**
 * Postgres refused the values themselves: SQLSTATE class 22 (data exception: NUL in text, a
 * number out of range, an impossible date) or 23 (a constraint). Only such an error says the
 * work is at fault; anything unrecognised is treated as possibly ours and retried.
 */
export function isDataError(error: unknown): boolean {
  const code = errorCode(error);
  return code !== null && /^2[23][0-9A-Z]{3}$/.test(code);
}

/** Redis is away: commands refused while disconnected, retries per request used up, a cluster without slots. */
export function isRedisUnavailable(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'MaxRetriesPerRequestError' || name === 'ClusterAllFailedError') return true;
  const text = message(error);
  return REDIS_MESSAGES.some((m) => text.includes(m));
}

/** Two of our own transactions got in each other's way: worth a quick retry, and not the work's fault. */
export function isContention(error: unknown): boolean {
  const code = errorCode(error);
  return code === '40001' || code === '40P01' || code === '55P03';
}

export function isInfrastructureError(error: unknown): boolean {
  return isPostgresUnavailable(error) || isRedisUnavailable(error) || isContention(error);
}
