import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, ServiceUnavailableException, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Queue } from 'bullmq';
import { Cluster } from 'ioredis';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/app-config.module.js';
import { LogThrottle } from '../common/log-throttle.js';
import { MicroBatcher } from '../common/micro-batcher.js';
import { createFailFastRedis } from '../redis/fail-fast-redis.js';
import { queuePrefixFor, type RedisClient } from '../redis/redis-connections.js';
import { bullmqTelemetry, currentTraceparent } from '../telemetry/tracing.js';
import {
  APPLY_MESSAGES_JOB,
  ORDER_EVENTS_JOB_OPTIONS,
  messagePartitionKey,
  orderEventsQueues,
  partitionOf,
  type ApplyMessagesJob,
  type InboundMessage,
} from '../queues/order-events.queue.js';
import { logQueueErrors } from '../queues/queue-error-log.js';

/** Where the time of the newest 1688 push is kept (epoch ms), for silence detection. */
export function lastPushKey(queuePrefix: string): string {
  return `${queuePrefix}:last-1688-push-at`;
}

/** A job id of our own: never integer-like, never repeated (the inbox, not the job id, dedupes messages). */
function batchJobId(): string {
  return `batch-${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
}

/**
 * Puts verified messages on the order-events queues and resolves once Redis has them. Messages
 * arriving within PUBLISH_BATCH_WINDOW_MS go together: one job per partition, one round trip.
 * Its connection fails fast (no offline queue) so that a webhook answers 503 at once when Redis
 * is away, instead of hanging or answering 2xx for a message that is only in memory.
 */
@Injectable()
export class OrderEventsPublisher implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(OrderEventsPublisher.name);
  /** During a Redis outage every push fails alike: one line per reason every 10 s. */
  private readonly notQueuedLogs = new LogThrottle();
  private readonly connection: RedisClient;
  private readonly queues: Queue<ApplyMessagesJob>[];
  private readonly batcher: MicroBatcher<InboundMessage, void>;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.connection = createFailFastRedis(config, 'order-events publisher connection', this.logger);
    const partitioned = config.orderEventsPartitions > 1;
    this.queues = orderEventsQueues(config.orderEventsPartitions).map((name) => {
      const queue = new Queue<ApplyMessagesJob>(name, {
        connection: this.connection,
        prefix: queuePrefixFor(config, name, partitioned),
        telemetry: bullmqTelemetry(),
        defaultJobOptions: ORDER_EVENTS_JOB_OPTIONS,
      });
      logQueueErrors(queue, this.logger);
      return queue;
    });
    this.batcher = new MicroBatcher((messages) => this.addAll(messages), config.publishBatchMaxMessages, config.publishBatchWindowMs);
  }

  /** Starts serving with a connected queue when Redis is there; without it, starts anyway and answers 503. */
  async onModuleInit(): Promise<void> {
    if (!(await this.connectedWithin(this.config.enqueueTimeoutMs * 2))) {
      this.logger.warn({ msg: 'Redis not reachable at start; webhooks answer 503 until it is' });
    }
  }

  async publish(message: InboundMessage): Promise<void> {
    // A first connection still being made is worth a short wait; a lost one is not: BullMQ
    // would wait for it, and 1688 is better served by a quick 503 and a re-send.
    const firstConnect =
      this.connection.status === 'connecting' || this.connection.status === 'connect' || this.connection.status === 'wait';
    if (this.connection.status !== 'ready' && !(firstConnect && (await this.connectedWithin(this.config.enqueueTimeoutMs)))) {
      throw new ServiceUnavailableException('the message could not be queued durably (Redis is unreachable); send it again later');
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Redis did not accept the message within ${this.config.enqueueTimeoutMs} ms`)),
        this.config.enqueueTimeoutMs,
      );
    });
    try {
      // Many requests share one job, whose trace continues only the first: each message keeps its own.
      const traceparent = currentTraceparent();
      await Promise.race([this.batcher.add(traceparent ? { ...message, traceparent } : message), timeout]);
    } catch (error) {
      const err = (error as Error).message;
      const logged = this.notQueuedLogs.take(err);
      if (logged) {
        const suppressedSinceLast = logged.suppressed > 0 ? logged.suppressed : undefined;
        this.logger.warn({ msg: 'message not queued', source: message.source, messageId: message.messageId, err, suppressedSinceLast });
      }
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
    await Promise.all(this.queues.map((queue) => queue.close()));
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

  /**
   * REDIS_MIN_REPLICAS_ACK > 0: the job counts as held only once that many replicas have it
   * (WAIT, on the connection that wrote it; on a Cluster, on the master of the queue's slot).
   * Fewer within REDIS_REPLICAS_ACK_TIMEOUT_MS: the push gets a 503 and 1688 sends it again (the
   * job may still be applied: the inbox makes the re-sent message a duplicate).
   */
  private async replicated(queue: Queue<ApplyMessagesJob>): Promise<void> {
    const { redisMinReplicasAck: wanted, redisReplicasAckTimeoutMs: timeout } = this.config;
    let acked: number;
    if (this.connection instanceof Cluster) {
      const [, reply] = (await this.connection.pipeline().exists(queue.keys.id).call('WAIT', wanted, timeout).exec()) ?? [];
      if (reply?.[0]) throw reply[0];
      acked = Number(reply?.[1]);
    } else {
      acked = Number(await this.connection.call('WAIT', wanted, timeout));
    }
    if (acked < wanted) throw new Error(`only ${acked} of ${wanted} Redis replicas confirmed the job within ${timeout} ms`);
  }

  /** One job per partition for the messages in hand; every message's caller hears once its job is in Redis. */
  private async addAll(messages: InboundMessage[]): Promise<PromiseSettledResult<void>[]> {
    const groups = new Map<number, InboundMessage[]>();
    for (const message of messages) {
      const partition = partitionOf(messagePartitionKey(message), this.queues.length);
      const group = groups.get(partition);
      if (group) group.push(message);
      else groups.set(partition, [message]);
    }
    const pushedAt = messages.some((m) => m.source === '1688' && m.via !== 'pull') ? Date.now() : null;
    await Promise.all([
      ...[...groups].map(async ([partition, group]) => {
        const queue = this.queues[partition];
        await queue.add(APPLY_MESSAGES_JOB, { messages: group }, { jobId: batchJobId() });
        if (this.config.redisMinReplicasAck > 0) await this.replicated(queue);
      }),
      // When 1688 last pushed anything: silence is what an outage on 1688's side looks like.
      ...(pushedAt === null ? [] : [this.connection.set(lastPushKey(this.config.queuePrefix), String(pushedAt))]),
    ]);
    return messages.map(() => ({ status: 'fulfilled', value: undefined }));
  }
}
