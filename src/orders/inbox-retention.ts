import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/app-config.module.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { InboxRepository, RECEIVED_AT_INDEX } from './repositories/inbox.repository.js';

/** How often a worker looks for expired inbox rows (once at start, then this often). */
const INTERVAL_MS = 60_000;
/** Rows per DELETE: short transactions, no long lock on the table. */
const BATCH = 5_000;
/** Between two DELETEs of one round: the applier's batches keep their turn. */
const PAUSE_MS = 50;

/**
 * Keeps the inbox to INBOX_RETENTION_DAYS. The inbox is the dedupe that outlasts the queues; a
 * message id older than the retention would only come back if 1688 re-sent it after that long
 * (the configuration refuses a retention shorter than the pull looks back), and applying it
 * again changes no status (a status never moves back in supplier time). Runs in every worker:
 * first it builds the index by arrival time, concurrently (a new release on a big inbox must
 * not lock it), then every minute it deletes what expired, batch after batch until none is left;
 * workers deleting at once skip each other's rows.
 */
@Injectable()
export class InboxRetention implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(InboxRetention.name);
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | null = null;
  private indexAsked = false;
  private stopping = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly inbox: InboxRepository,
    private readonly metrics: MetricsService,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.inboxRetentionDays === 0) return;
    const run = () => {
      // One round at a time: a slow one is not overtaken by the next tick.
      this.round ??= this.deleteExpired().finally(() => {
        this.round = null;
      });
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
      if (!(await this.indexReady())) return;
      while (!this.stopping) {
        const count = await this.inbox.deleteReceivedBefore(before, BATCH);
        deleted += count;
        this.metrics.inboxExpired.inc(count);
        if (count < BATCH) break;
        await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
      }
      if (deleted > 0) this.logger.log({ msg: 'expired inbox rows deleted', deleted, receivedBefore: before.toISOString() });
    } catch (error) {
      this.logger.warn({ msg: 'could not delete expired inbox rows; will try again', deleted, err: (error as Error).message });
    }
  }

  /** The index exists and is valid; built here (once per process) when it does not exist. */
  private async indexReady(): Promise<boolean> {
    let valid = await this.inbox.receivedAtIndexValid();
    if (valid === null && !this.indexAsked) {
      this.indexAsked = true;
      this.logger.log({ msg: 'building the inbox index by arrival time (concurrently, writes go on)', index: RECEIVED_AT_INDEX });
      try {
        await this.inbox.ensureReceivedAtIndex();
      } catch (error) {
        // Another worker started the same build at the same moment: its build counts.
        this.logger.log({ msg: 'inbox index not built here', index: RECEIVED_AT_INDEX, err: (error as Error).message });
      }
      valid = await this.inbox.receivedAtIndexValid();
    }
    if (valid === false) {
      this.logger.warn({
        msg: `inbox index not usable yet: being built by another worker, or a build failed (then: DROP INDEX CONCURRENTLY ${RECEIVED_AT_INDEX}; a worker restart builds it again); expired rows wait`,
        index: RECEIVED_AT_INDEX,
      });
    }
    return valid === true;
  }
}
