import { ServiceUnavailableException } from '@nestjs/common';

/**
 * A request that needs Redis (adding a job) while it is away would wait for it: the queues'
 * connection waits out outages. Requests give up after `ms` with a 503 instead; the work itself
 * goes on and finishes once Redis is back.
 */
export async function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ServiceUnavailableException(`${what} did not finish within ${ms} ms (is Redis away?); try again`)),
      ms,
    );
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
