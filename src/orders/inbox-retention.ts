import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/app-config.module.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { InboxRepository } from './repositories/inbox.repository.js';

/** How often a worker looks for expired inbox rows (once at start, then this often). */
const INTERVAL_MS = 10 * 60_000;
/** Rows per DELETE: short transactions, no long lock on the table. */
const BATCH = 5_000;
/** Batches per round at most: a first run on a big, old inbox catches up over a few rounds. */
const MAX_BATCHES_PER_ROUND = 20;

/**
 * Keeps the inbox to INBOX_RETENTION_DAYS. The inbox is the dedupe that outlasts the queues; a
 * message id older than the retention would only come back if 1688 re-sent it after that long,
 * and applying it again changes nothing (a status never moves back in supplier time). Runs in
 * every worker; workers deleting at once skip each other's rows.
 */
@Injectable()
export class InboxRetention implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(InboxRetention.name);
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> = Promise.resolve();
  private stopping = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly inbox: InboxRepository,
    private readonly metrics: MetricsService,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.inboxRetentionDays === 0) return;
    const run = () => {
      this.round = this.deleteExpired();
    };
    run();
    this.timer = setInterval(run, INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.round;
  }

  /** One round; never throws (a failed round is logged and the next one tries again). */
  async deleteExpired(): Promise<void> {
    if (this.config.inboxRetentionDays === 0) return;
    const before = new Date(Date.now() - this.config.inboxRetentionDays * 86_400_000);
    let deleted = 0;
    try {
      for (let i = 0; i < MAX_BATCHES_PER_ROUND && !this.stopping; i++) {
        const count = await this.inbox.deleteReceivedBefore(before, BATCH);
        deleted += count;
        this.metrics.inboxExpired.inc(count);
        if (count < BATCH) break;
      }
      if (deleted > 0) this.logger.log({ msg: 'expired inbox rows deleted', deleted, receivedBefore: before.toISOString() });
    } catch (error) {
      this.logger.warn({ msg: 'could not delete expired inbox rows; will try again', deleted, err: (error as Error).message });
    }
  }
}
