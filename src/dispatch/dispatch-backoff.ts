/** Base and cap of the exponential backoff between calls for one order. */
export const BACKOFF_BASE_MS = 1_000;
export const BACKOFF_CAP_MS = 5 * 60_000;
/**
 * DISPATCH_MAX_ATTEMPTS's default: with the backoff below, the calls of one order span at least
 * 14 minutes (about 28 at most), so that a supplier down for 10 minutes fails no order.
 */
export const DEFAULT_DISPATCH_MAX_ATTEMPTS = 14;

/** An answer worth another try; `retryAfterMs` is the server's own wish, when it said one. */
export class RetryableDispatchError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number | null,
  ) {
    super(message);
    this.name = 'RetryableDispatchError';
  }
}

/**
 * Delay before the next call: exponential with jitter in its upper half (so that orders failing together do
 * not come back together), never sooner than the server's Retry-After.
 */
export function dispatchBackoffMs(attemptsMade: number, error: unknown, random = Math.random): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attemptsMade - 1));
  const jittered = Math.round(ceiling / 2 + random() * (ceiling / 2));
  const retryAfter = error instanceof RetryableDispatchError ? error.retryAfterMs : null;
  return retryAfter === null ? jittered : Math.max(retryAfter, jittered);
}
