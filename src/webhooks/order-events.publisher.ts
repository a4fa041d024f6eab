import { Inject, Injectable, Logger, ServiceUnavailableException, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { MicroBatcher } from '../common/micro-batcher.js';
import { createFailFastRedis } from '../queues/fail-fast-redis.js';
import { logQueueErrors } from '../queues/queue-error-log.js';
import { APPLY_MESSAGE_JOB, ORDER_EVENTS_JOB_OPTIONS, ORDER_EVENTS_QUEUE, orderEventJobId, type ApplyMessageJob } from '../queues/order-events.queue.js';

/**
 * Puts verified messages on the order-events queue and resolves once Redis has them.
 * Its connection fails fast (no offline queue) so that a webhook answers 503 at once when
 * Redis is away, instead of hanging or answering 2xx for a message that is only in memory.
 * Messages arriving together go to Redis in one round trip.
 */
@Injectable()
export class OrderEventsPublisher implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(OrderEventsPublisher.name);
  private readonly connection: Redis;
  private readonly queue: Queue<ApplyMessageJob>;
  private readonly batcher: MicroBatcher<ApplyMessageJob, void>;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.connection = createFailFastRedis(config.redisUrl, 'order-events publisher connection', this.logger);
    this.queue = new Queue<ApplyMessageJob>(ORDER_EVENTS_QUEUE, {
      connection: this.connection,
      prefix: config.queuePrefix,
      defaultJobOptions: ORDER_EVENTS_JOB_OPTIONS,
    });
    logQueueErrors(this.queue, this.logger);
    this.batcher = new MicroBatcher((jobs) => this.addAll(jobs), 500, 0);
  }

  /** Starts serving with a connected queue when Redis is there; without it, starts anyway and answers 503. */
  async onModuleInit(): Promise<void> {
    if (!(await this.connectedWithin(this.config.enqueueTimeoutMs * 2))) {
      this.logger.warn({ msg: 'Redis not reachable at start; webhooks answer 503 until it is' });
    }
  }

  async publish(job: ApplyMessageJob): Promise<void> {
    // A first connection still being made is worth a short wait; a lost one is not: BullMQ
    // would wait for it, and 1688 is better served by a quick 503 and a re-send.
    const firstConnect = this.connection.status === 'connecting' || this.connection.status === 'connect' || this.connection.status === 'wait';
    if (this.connection.status !== 'ready' && !(firstConnect && (await this.connectedWithin(this.config.enqueueTimeoutMs)))) {
      throw new ServiceUnavailableException('the message could not be queued durably (Redis is unreachable); send it again later');
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not accept the message within ${this.config.enqueueTimeoutMs} ms`)), this.config.enqueueTimeoutMs);
    });
    try {
      await Promise.race([this.batcher.add(job), timeout]);
    } catch (error) {
      this.logger.warn({ msg: 'message not queued', source: job.source, messageId: job.messageId, err: (error as Error).message });
      throw new ServiceUnavailableException('the message could not be queued durably; send it again later');
    } finally {
      clearTimeout(timer);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    // Messages in hand get the time a request would have given them.
    await Promise.race([this.batcher.drain(), new Promise((resolve) => setTimeout(resolve, this.config.enqueueTimeoutMs))]);
    // Disconnect first: while Redis is unreachable, closing the queue would wait for a
    // connection that never comes.
    this.connection.disconnect();
    await this.queue.close();
  }

  private connectedWithin(ms: number): Promise<boolean> {
    if (this.connection.status === 'ready') return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ready: boolean) => {
        clearTimeout(timer);
        this.connection.off('ready', onReady);
        resolve(ready);
      };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), ms);
      this.connection.once('ready', onReady);
    });
  }

  private async addAll(jobs: ApplyMessageJob[]): Promise<PromiseSettledResult<void>[]> {
    await this.queue.addBulk(jobs.map((data) => ({ name: APPLY_MESSAGE_JOB, data, opts: { jobId: orderEventJobId(data.source, data.messageId) } })));
    return jobs.map(() => ({ status: 'fulfilled', value: undefined }));
  }
}
