import { WorkerHost } from '@nestjs/bullmq';
import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import type { Worker } from 'bullmq';
import type { AppConfig } from '../config/app-config.js';
import { createRedis } from '../redis/redis-connections.js';

type RedisConfig = Pick<AppConfig, 'redisUrl' | 'redisClusterNodes' | 'redisSentinels' | 'redisSentinelName'>;
import { logQueueErrors } from './queue-error-log.js';

/** A processor that cannot do its work without Postgres says so; its worker pauses while Postgres is away. */
export interface NeedsPostgres {
  readonly needsPostgres: true;
}

function needsPostgres(host: WorkerHost<Worker>): boolean {
  return (host as Partial<NeedsPostgres>).needsPostgres === true;
}

/**
 * The BullMQ workers of this process: for pausing those that need Postgres while it is away, and
 * for shutdown. A worker closes gracefully (finishing its jobs) when Redis is there; when it is
 * not, waiting would hang forever, so the workers are closed by force: their jobs go back to the
 * queue when their locks expire.
 */
@Injectable()
export class WorkerRegistry implements OnApplicationBootstrap {
  private readonly logger = new Logger(WorkerRegistry.name);
  private readonly workers = new Map<Worker, { needsPostgres: boolean }>();

  constructor(private readonly discovery: DiscoveryService) {}

  onApplicationBootstrap(): void {
    for (const wrapper of this.discovery.getProviders()) {
      const host: unknown = wrapper.instance;
      if (!(host instanceof WorkerHost)) continue;
      const worker = (host as WorkerHost<Worker>).worker;
      this.workers.set(worker, { needsPostgres: needsPostgres(host as WorkerHost<Worker>) });
      logQueueErrors(worker, new Logger('Workers'));
    }
  }

  get size(): number {
    return this.workers.size;
  }

  /** This process's worker of a queue, if it runs one. */
  workerOf(queueName: string): Worker | undefined {
    return [...this.workers.keys()].find((worker) => worker.name === queueName);
  }

  /** Stops fetching new jobs on the workers that need Postgres; jobs in hand finish or wait on their own. */
  async pausePostgresWorkers(): Promise<void> {
    await Promise.all(this.postgresWorkers().map((worker) => worker.pause(true)));
  }

  resumePostgresWorkers(): void {
    for (const worker of this.postgresWorkers()) void worker.resume();
  }

  async forceCloseIfRedisAway(config: RedisConfig, timeoutMs = 1_000): Promise<void> {
    if (this.workers.size === 0 || (await reachable(config, timeoutMs))) return;
    this.logger.warn({ msg: 'Redis unreachable at shutdown: closing workers without waiting for their jobs', workers: this.workers.size });
    await Promise.all([...this.workers.keys()].map((worker) => worker.close(true)));
  }

  private postgresWorkers(): Worker[] {
    return [...this.workers].filter(([, info]) => info.needsPostgres).map(([worker]) => worker);
  }
}

async function reachable(config: RedisConfig, timeoutMs: number): Promise<boolean> {
  const probe = createRedis(config, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
    clusterRetryStrategy: () => null,
  });
  probe.on('error', () => undefined);
  try {
    await Promise.race([
      probe.connect(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), timeoutMs * 2).unref()),
    ]);
    await probe.ping();
    return true;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}
