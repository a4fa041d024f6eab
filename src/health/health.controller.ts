import { Controller, Get, Inject } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { QueueDepthService } from '../operations/queue-depth.service.js';
import { ShutdownState } from './shutdown-state.js';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly queues: QueueDepthService,
    private readonly shutdown: ShutdownState,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** The process answers; no dependency is checked (a dead database is not a reason to restart). */
  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  /** Postgres, Redis and the backlog, each within HEALTH_CHECK_TIMEOUT_MS; down while shutting down. */
  @Get('ready')
  @HealthCheck()
  ready() {
    const timeout = this.config.healthCheckTimeoutMs;
    return this.health.check([
      () => {
        const session = this.indicators.check('lifecycle');
        return this.shutdown.draining ? session.down({ message: 'shutting down' }) : session.up();
      },
      () =>
        this.indicators
          .check('postgres')
          .attempt(async () => {
            await this.dataSource.query('SELECT 1');
          })
          .withTimeout(timeout),
      () =>
        this.indicators
          .check('redis')
          .attempt(async () => {
            await this.queues.ping();
          })
          .withTimeout(timeout),
      () => this.backlog(timeout),
    ]);
  }

  private async backlog(timeout: number) {
    const session = this.indicators.check('backlog');
    let depths;
    try {
      depths = await Promise.race([
        this.queues.depths(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeout} ms`)), timeout).unref()),
      ]);
    } catch (error) {
      return session.down({ message: `queue depth unknown: ${(error as Error).message}` });
    }
    const over = depths
      .filter((q) => q.waiting > this.config.backlogReadyThreshold || (q.oldestWaitingAgeMs ?? 0) > this.config.backlogReadyMaxAgeMs)
      .map((q) => ({ queue: q.name, waiting: q.waiting, oldestWaitingAgeMs: q.oldestWaitingAgeMs }));
    const limits = { waitingThreshold: this.config.backlogReadyThreshold, maxWaitingAgeMs: this.config.backlogReadyMaxAgeMs };
    return over.length > 0 ? session.down({ ...limits, over }) : session.up(limits);
  }
}
