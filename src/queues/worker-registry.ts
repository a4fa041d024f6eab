import { WorkerHost } from '@nestjs/bullmq';
import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import type { Worker } from 'bullmq';
import { Redis } from 'ioredis';

/**
 * The BullMQ workers of this process, for shutdown. A worker closes gracefully (finishing its
 * jobs) when Redis is there; when it is not, waiting would hang forever, so the workers are
 * closed by force: their jobs go back to the queue when their locks expire.
 */
@Injectable()
export class WorkerRegistry implements OnApplicationBootstrap {
  private readonly logger = new Logger(WorkerRegistry.name);
  private readonly workers = new Set<Worker>();

  constructor(private readonly discovery: DiscoveryService) {}

  onApplicationBootstrap(): void {
    for (const wrapper of this.discovery.getProviders()) {
      if (wrapper.instance instanceof WorkerHost) this.workers.add(wrapper.instance.worker);
    }
  }

  async forceCloseIfRedisAway(redisUrl: string, timeoutMs = 1_000): Promise<void> {
    if (this.workers.size === 0 || (await reachable(redisUrl, timeoutMs))) return;
    this.logger.warn({ msg: 'Redis unreachable at shutdown: closing workers without waiting for their jobs', workers: this.workers.size });
    await Promise.all([...this.workers].map((worker) => worker.close(true)));
  }
}

async function reachable(url: string, timeoutMs: number): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: timeoutMs, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}
