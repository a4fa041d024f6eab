import { InjectQueue, Processor } from '@nestjs/bullmq';
import { Inject, type Type } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/app-config.module.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { DependencyOutages } from '../queues/dependency-outages.js';
import { orderEventsQueues } from '../queues/order-events.queue.js';
import { queuePrefixFor } from '../redis/redis-connections.js';
import { deadLetterQueueOf } from '../queues/queue-catalog.js';
import { OrderMessageApplier } from './order-message-applier.js';
import { OrderEventsProcessor } from './order-events.processor.js';

/**
 * A kill -9 in the middle of a batch stalls every job of it: let a job outlive a few of those,
 * and let another worker take them over within seconds (locks are renewed every 5 s).
 */
const WORKER_OPTIONS = { maxStalledCount: 10, lockDuration: 10_000, stalledInterval: 5_000 };

/** One processor class per partition queue: decorators take the queue name, known only at boot. */
export function orderEventsProcessors(config: AppConfig): Type<OrderEventsProcessor>[] {
  const partitioned = config.orderEventsPartitions > 1;
  return orderEventsQueues(config.orderEventsPartitions).map((queue) => {
    // A partition of its own shard on a Redis Cluster: its own prefix, for the worker as for the queue.
    @Processor(queue, { ...WORKER_OPTIONS, prefix: queuePrefixFor(config, queue, partitioned) })
    class PartitionProcessor extends OrderEventsProcessor {
      constructor(
        applier: OrderMessageApplier,
        @InjectQueue(deadLetterQueueOf(queue)) deadLetters: Queue,
        outages: DependencyOutages,
        @Inject(APP_CONFIG) appConfig: AppConfig,
        metrics: MetricsService,
      ) {
        super(applier, deadLetters, outages, appConfig, metrics);
      }
    }
    Object.defineProperty(PartitionProcessor, 'name', { value: `OrderEventsProcessor[${queue}]` });
    return PartitionProcessor;
  });
}
