import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { HEALTH_SCHEMA } from '../docs/api-schemas.js';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/app-config.module.js';
import { QueueCatalog } from '../queues/queue-catalog.js';
import { QueueDepthService } from '../queues/queue-depth.service.js';
import { ShutdownState } from './shutdown-state.js';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly catalog: QueueCatalog,
    private readonly depth: QueueDepthService,
    private readonly shutdown: ShutdownState,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** The process answers; no dependency is checked (a dead database is not a reason to restart). */
  @Get('live')
  @HealthCheck()
  @ApiOkResponse({ description: 'the process answers', schema: HEALTH_SCHEMA })
  @ApiServiceUnavailableResponse({ description: 'not so; details say which check', schema: HEALTH_SCHEMA })
  live() {
    return this.health.check([]);
  }

  /**
   * Whether this process can do its job now, for load balancers: what its role needs, each
   * within HEALTH_CHECK_TIMEOUT_MS. A process taking webhooks (api, all) needs Redis only: it stays
   * ready while Postgres is away (/orders answers 503 meanwhile). A worker needs both. Never
   * fleet-wide state: backlog and dead letters are /health/backlog's.
   */
  @Get('ready')
  @HealthCheck()
  @ApiOkResponse({ description: "this process can do its job (its role's dependencies)", schema: HEALTH_SCHEMA })
  @ApiServiceUnavailableResponse({ description: 'not so; details say which check', schema: HEALTH_SCHEMA })
  ready() {
    const timeout = this.config.healthCheckTimeoutMs;
    const needsPostgres = this.config.role === 'worker';
    return this.health.check([
      () => {
        const session = this.indicators.check('lifecycle');
        return this.shutdown.draining ? session.down({ message: 'shutting down' }) : session.up({ role: this.config.role });
      },
      () =>
        this.indicators
          .check('redis')
          .attempt(async () => {
            await this.catalog.ping();
          })
          .withTimeout(timeout),
      ...(needsPostgres
        ? [
            () =>
              this.indicators
                .check('postgres')
                .attempt(async () => {
                  await this.dataSource.query('SELECT 1');
                })
                .withTimeout(timeout),
          ]
        : []),
    ]);
  }

  /**
   * 503 when a work queue (never a dead-letter queue) has more than BACKLOG_MAX_WAITING jobs
   * waiting or its oldest waiting job is older than BACKLOG_MAX_AGE_MS. For monitors and alerts,
   * not for load balancers: taking the fleet out when the backlog grows is the last thing to do.
   */
  @Get('backlog')
  @HealthCheck()
  @ApiOkResponse({ description: 'no work queue is over BACKLOG_MAX_WAITING / BACKLOG_MAX_AGE_MS', schema: HEALTH_SCHEMA })
  @ApiServiceUnavailableResponse({ description: 'not so; details say which check', schema: HEALTH_SCHEMA })
  backlog() {
    const timeout = this.config.healthCheckTimeoutMs;
    return this.health.check([
      async () => {
        const session = this.indicators.check('backlog');
        let snapshot;
        try {
          snapshot = await Promise.race([
            this.depth.depths(),
            new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeout} ms`)), timeout).unref()),
          ]);
        } catch (error) {
          return session.down({ message: `queue depth unknown: ${(error as Error).message}` });
        }
        const workQueues = new Set(this.catalog.workQueues.map((spec) => spec.name));
        const over = snapshot.queues
          .filter(
            (q) =>
              workQueues.has(q.name) &&
              (q.waiting > this.config.backlogMaxWaiting || (q.oldestWaitingAgeMs ?? 0) > this.config.backlogMaxAgeMs),
          )
          .map((q) => ({ queue: q.name, waiting: q.waiting, oldestWaitingAgeMs: q.oldestWaitingAgeMs }));
        const limits = {
          maxWaiting: this.config.backlogMaxWaiting,
          maxAgeMs: this.config.backlogMaxAgeMs,
          snapshotAgeMs: snapshot.snapshotAgeMs,
        };
        return over.length > 0 ? session.down({ ...limits, over }) : session.up(limits);
      },
    ]);
  }
}
