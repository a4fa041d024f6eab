import { Inject, Injectable, ServiceUnavailableException, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { ALL_QUEUES, WORK_QUEUES } from '../queues/queue-catalog.js';
import { OPERATIONS_REDIS } from './operations-redis.js';

export interface QueueDepth {
  name: string;
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  deadLettered: number;
  oldestWaitingAgeMs: number | null;
}

/**
 * Every queue's counts in one Redis call: a script reads BullMQ's keys directly, which is cheap
 * enough to poll every second while the queues hold millions of jobs (all O(1) reads).
 */
const DEPTH_SCRIPT = `
local prefix = ARGV[1]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local out = {}
for i = 2, #ARGV do
  local q = prefix .. ':' .. ARGV[i] .. ':'
  local waiting = redis.call('LLEN', q .. 'wait') + redis.call('LLEN', q .. 'paused') + redis.call('ZCARD', q .. 'prioritized')
  local oldest = -1
  local id = redis.call('LINDEX', q .. 'wait', -1)
  if id then
    local ts = redis.call('HGET', q .. id, 'timestamp')
    if ts then oldest = math.max(0, now - tonumber(ts)) end
  end
  table.insert(out, { waiting, redis.call('LLEN', q .. 'active'), redis.call('ZCARD', q .. 'delayed'), redis.call('ZCARD', q .. 'failed'), oldest })
end
return out
`;

@Injectable()
export class QueueDepthService implements OnApplicationShutdown {
  constructor(
    @Inject(OPERATIONS_REDIS) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async depths(): Promise<QueueDepth[]> {
    if (this.redis.status !== 'ready') throw new ServiceUnavailableException('Redis is unreachable; queue depths are unknown');
    const raw = (await this.redis.eval(DEPTH_SCRIPT, 0, this.config.queuePrefix, ...ALL_QUEUES)) as number[][];
    const byName = new Map(ALL_QUEUES.map((name, i) => [name, raw[i] as number[]]));
    const deadLetterQueueOf = new Map(WORK_QUEUES.map((queue) => [queue.name, queue.deadLetterQueue]));
    return ALL_QUEUES.map((name) => {
      const [waiting = 0, active = 0, delayed = 0, failed = 0, oldest = -1] = byName.get(name) ?? [];
      const deadLetterQueue = deadLetterQueueOf.get(name);
      // A dead-letter queue has no worker: everything in it is waiting for an operator.
      const deadLettered = deadLetterQueue ? (byName.get(deadLetterQueue)?.[0] ?? 0) : deadLetterQueueOf.has(name) ? 0 : waiting;
      return { name, waiting, active, delayed, failed, deadLettered, oldestWaitingAgeMs: oldest < 0 ? null : oldest };
    });
  }

  async ping(): Promise<void> {
    if (this.redis.status !== 'ready') throw new Error(`Redis connection is ${this.redis.status}`);
    await this.redis.ping();
  }

  onApplicationShutdown(): void {
    this.redis.disconnect();
  }
}
