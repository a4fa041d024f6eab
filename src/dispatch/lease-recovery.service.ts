import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Job, Queue } from 'bullmq';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/app-config.module.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { OrdersRepository, type ClaimedOrder } from '../orders/repositories/orders.repository.js';
import {
  DISPATCH_RESULT_JOB,
  DISPATCH_RESULTS_QUEUE,
  dispatchResultJobId,
  type DispatchResultJob,
} from '../queues/dispatch-results.queue.js';
import { ORDER_DISPATCH_QUEUE, dispatchJobId, type DispatchOrderJob } from '../queues/order-dispatch.queue.js';
import { DispatchClaimsService } from './dispatch-claims.service.js';

/** A job that is still going to run (or running) for an order. */
const LIVE_JOB_STATES = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);
/** Results looked through per page when searching for an order's unapplied result. */
const RESULTS_PAGE = 1_000;

export interface RecoveryTally {
  /** Leases renewed because the order's job is still alive, or its result is on its way. */
  extended: number;
  /** Orders whose result was recorded on their finished job but never applied: reported again, not sent. */
  reported: number;
  /** Orders with no job and no result: queued again, with the same Idempotency-Key. */
  requeued: number;
}

/**
 * Finds PROCESSING orders whose lease expired, a page at a time. The order's job decides, and is
 * looked at after the lease is renewed, so that a job finishing meanwhile is seen finished:
 * alive → a new lease only; finished → its result is reported again (the same result job id, so
 * a result still queued is not doubled) and nothing is sent; gone → an unapplied result is
 * looked for, and only an order with neither is queued again.
 */
@Injectable()
export class LeaseRecoveryService {
  private readonly logger = new Logger(LeaseRecoveryService.name);

  constructor(
    private readonly orders: OrdersRepository,
    private readonly claims: DispatchClaimsService,
    @InjectQueue(ORDER_DISPATCH_QUEUE) private readonly dispatchQueue: Queue<DispatchOrderJob>,
    @InjectQueue(DISPATCH_RESULTS_QUEUE) private readonly resultsQueue: Queue<DispatchResultJob>,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {}

  async recoverExpired(): Promise<RecoveryTally> {
    const tally: RecoveryTally = { extended: 0, reported: 0, requeued: 0 };
    for (;;) {
      const expired = await this.orders.renewExpiredLeases(this.config.dispatchLeaseMs, this.config.dispatchClaimBatch);
      if (expired.length === 0) break;
      const gone: ClaimedOrder[] = [];
      for (const order of expired) {
        const job = await this.dispatchQueue.getJob(dispatchJobId(order.id));
        const state = job ? await job.getState() : 'unknown';
        if (job && LIVE_JOB_STATES.has(state)) tally.extended++;
        else if (job && (state === 'completed' || state === 'failed')) {
          await this.reportAgain(job, state);
          tally.reported++;
        } else gone.push(order);
      }
      const answered = await this.ordersWithPendingResults(gone.map((order) => order.id));
      const lost = gone.filter((order) => !answered.has(order.id));
      tally.extended += gone.length - lost.length;
      await this.claims.enqueue(lost, true);
      tally.requeued += lost.length;
      if (lost.length > 0)
        this.logger.warn({
          msg: 're-queued orders whose dispatch job was lost',
          count: lost.length,
          orderIds: lost.slice(0, 20).map((o) => o.id),
        });
      if (expired.length < this.config.dispatchClaimBatch) break;
    }
    if (tally.reported + tally.requeued > 0) this.logger.warn({ msg: 'expired dispatch leases recovered', ...tally });
    this.metrics.leaseRecoveries.inc({ action: 'extended' }, tally.extended);
    this.metrics.leaseRecoveries.inc({ action: 'reported' }, tally.reported);
    this.metrics.leaseRecoveries.inc({ action: 'requeued' }, tally.requeued);
    return tally;
  }

  /**
   * A finished job whose order is still PROCESSING: its result never got applied (lost, or the
   * job failed for good by stalling, so nothing was reported). The result goes out again under
   * the id the first report had.
   */
  private async reportAgain(job: Job<DispatchOrderJob>, state: 'completed' | 'failed'): Promise<void> {
    const recorded = job.returnvalue as { result?: DispatchResultJob } | null;
    const result: DispatchResultJob =
      state === 'completed' && recorded?.result
        ? recorded.result
        : {
            orderId: job.data.orderId,
            outcome: 'failed',
            attempt: Math.max(1, job.attemptsMade),
            supplierOrderId: null,
            error: `gave up: ${job.failedReason ?? 'the dispatch job failed'}`,
            at: new Date(job.finishedOn ?? Date.now()).toISOString(),
          };
    if (state === 'completed' && !recorded?.result) return; // skipped run: the order finished another way
    await this.resultsQueue.add(DISPATCH_RESULT_JOB, result, { jobId: dispatchResultJobId(result, job.timestamp) });
  }

  /**
   * Orders among these with a final result waiting to be applied, a page at a time per state.
   * Results move delayed → waiting → active → applied; looking at them in that order, newest
   * first (so that results taken from the old end while we look shift nothing not seen yet), one
   * that moves on is seen in its next state, or is applied (and the order is no longer
   * PROCESSING, which the re-queued job checks before it calls).
   */
  private async ordersWithPendingResults(orderIds: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    if (orderIds.length === 0) return found;
    const wanted = new Set(orderIds);
    for (const state of ['delayed', 'prioritized', 'waiting', 'active'] as const) {
      for (let start = 0; found.size < wanted.size; start += RESULTS_PAGE) {
        const page = await this.resultsQueue.getJobs([state], start, start + RESULTS_PAGE - 1);
        for (const result of page)
          if (result && wanted.has(result.data.orderId) && result.data.outcome !== 'retrying') found.add(result.data.orderId);
        if (page.length < RESULTS_PAGE) break;
      }
    }
    return found;
  }
}
