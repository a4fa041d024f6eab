import { OnWorkerEvent, WorkerHost } from '@nestjs/bullmq';
import { Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Job, Queue } from 'bullmq';
import type { AppConfig } from '../config/app-config.js';
import { MicroBatcher } from '../common/micro-batcher.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { DependencyOutages } from '../queues/dependency-outages.js';
import { JobFailurePolicy } from '../queues/job-failure-policy.js';
import type { ApplyMessagesJob, InboundMessage } from '../queues/order-events.queue.js';
import type { NeedsPostgres } from '../queues/worker-registry.js';
import { inSpan, linksTo, SpanKind } from '../telemetry/tracing.js';
import { OrderMessageApplier, type ApplyOutcome } from './order-message-applier.js';

/**
 * Applies queued messages. A job carries the messages that arrived together; the batcher joins
 * the jobs in hand into one transaction of up to APPLY_BATCH_SIZE messages. One subclass per
 * partition queue (see orderEventsProcessors), decorated with its queue name at boot.
 */
export abstract class OrderEventsProcessor extends WorkerHost implements OnApplicationBootstrap, OnApplicationShutdown, NeedsPostgres {
  readonly needsPostgres = true;
  private readonly logger = new Logger(OrderEventsProcessor.name);
  private readonly batcher: MicroBatcher<InboundMessage[], ApplyOutcome[]>;
  private readonly policy: JobFailurePolicy;

  constructor(
    private readonly applier: OrderMessageApplier,
    deadLetters: Queue,
    outages: DependencyOutages,
    private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    super();
    this.batcher = new MicroBatcher(
      (groups) => this.applyGroups(groups),
      config.applyBatchSize,
      config.applyBatchWindowMs,
      (group) => group.length,
    );
    this.policy = new JobFailurePolicy({
      deadLetters,
      logger: this.logger,
      outages,
      describe: (job: Job<ApplyMessagesJob>) => ({
        queue: job.queueName,
        jobId: job.id,
        messages: job.data.messages.length,
        firstMessageId: job.data.messages[0]?.messageId,
      }),
      onDeferred: (kind) => metrics.jobsDeferred.inc({ queue: this.worker.name, reason: kind }),
    });
  }

  onApplicationBootstrap(): void {
    this.worker.concurrency = this.config.applyConcurrency;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.batcher.drain();
  }

  async process(job: Job<ApplyMessagesJob>, token?: string): Promise<Record<ApplyOutcome, number>> {
    return this.metrics.timeJob(job.queueName, async () => {
      try {
        const outcomes = await inSpan(
          'apply messages',
          { 'ordersync.messages': job.data.messages.length, 'ordersync.queue': job.queueName },
          () => this.batcher.add(job.data.messages),
          SpanKind.INTERNAL,
          linksTo(job.data.messages.map((m) => m.traceparent)),
        );
        return this.record(job.data.messages, outcomes);
      } catch (error) {
        return this.policy.fail(job, token, error);
      }
    });
  }

  @OnWorkerEvent('failed')
  onFailed(job: Job | undefined, error: Error): Promise<void> {
    return this.policy.onFailed(job, error);
  }

  private async applyGroups(groups: InboundMessage[][]): Promise<PromiseSettledResult<ApplyOutcome[]>[]> {
    const outcomes = await this.applier.apply(groups.flat());
    let offset = 0;
    return groups.map((group) => {
      const mine = outcomes.slice(offset, offset + group.length);
      offset += group.length;
      return { status: 'fulfilled', value: mine };
    });
  }

  private record(messages: InboundMessage[], outcomes: ApplyOutcome[]): Record<ApplyOutcome, number> {
    const counts: Record<ApplyOutcome, number> = { applied: 0, ignored: 0, duplicate: 0 };
    const now = Date.now();
    messages.forEach((message, i) => {
      const outcome = outcomes[i] ?? 'duplicate';
      counts[outcome]++;
      this.metrics.messagesApplied.inc({ source: message.source, outcome });
      if (outcome !== 'applied') return;
      for (const change of message.changes) this.metrics.supplierLag.observe(Math.max(0, now - Date.parse(change.occurredAt)) / 1000);
    });
    return counts;
  }
}
