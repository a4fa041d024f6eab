import { Injectable, Logger } from '@nestjs/common';
import { QueueCatalog } from './queue-catalog.js';

interface ErrorEmitter {
  name: string;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/**
 * Logs a queue's connection errors at most once per interval: while Redis is away, ioredis
 * reports every reconnect attempt, and an unlistened 'error' would print each one.
 */
export function logQueueErrors(emitter: ErrorEmitter, logger: Logger, intervalMs = 10_000): void {
  let lastLoggedAt = 0;
  let suppressed = 0;
  emitter.on('error', (error) => {
    const now = Date.now();
    if (now - lastLoggedAt < intervalMs) {
      suppressed++;
      return;
    }
    logger.warn({ msg: 'queue connection error', queue: emitter.name, err: error.message, suppressedSinceLast: suppressed });
    lastLoggedAt = now;
    suppressed = 0;
  });
}

/** Every queue of the catalog gets the rate-limited error log (workers get theirs in WorkerRegistry). */
@Injectable()
export class QueueErrorLog {
  constructor(catalog: QueueCatalog) {
    const logger = new Logger('Queues');
    for (const queue of catalog.all()) logQueueErrors(queue, logger);
  }
}
