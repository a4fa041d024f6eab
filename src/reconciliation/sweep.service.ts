import { Inject, Injectable, Logger } from '@nestjs/common';
import { AlibabaApiClient } from '../alibaba/alibaba-api.client.js';
import { AlibabaApiError, BUYER_ORDER_LIST, BUYER_ORDER_VIEW } from '../alibaba/alibaba-api.js';
import { AlibabaTokenService } from '../alibaba/alibaba-token.service.js';
import { formatAlibabaTime, parseAlibabaTime } from '../alibaba/alibaba-time.js';
import { isLosslessNumber, stringifyLosslessJson } from '../common/lossless-json.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/app-config.module.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { OrdersRepository } from '../orders/repositories/orders.repository.js';
import type { InboundMessage } from '../queues/order-events.queue.js';
import { OrderEventsPublisher } from '../webhooks/order-events.publisher.js';
import { describe } from './pull.service.js';
import { SyncRepository } from './sync.repository.js';

const PAGE_SIZE = 50;
const MAX_PAGES = 100_000;
/** The window ends this far ahead, so that an order modified while the sweep runs stays in it (and no page shifts past it). */
const WINDOW_AHEAD_MS = 3_600_000;
/** 1688 statuses after which nothing changes: a stale order in one of them is not re-read. */
export const FINAL_STATUSES = ['success', 'cancel', 'terminated'];

export interface SweepCounts {
  pages: number;
  examined: number;
  drifted: number;
  unknown: number;
  staleRead: number;
  [key: string]: number;
}

interface AlibabaOrder {
  id: string;
  status: string;
  modifiedAt: number;
  raw: unknown;
}

/**
 * Reconciliation: 1688's orders modified since the last sweep compared with ours. A status that
 * differs and is newer at 1688 (its modifyTime) is applied as a message from `1688-reconcile`
 * through the same queue and applier as pushes, so that an older one can never overwrite ours
 * and the history shows it; a supplier order we do not know becomes an EXTERNAL order, as a
 * push would make it. Linked orders whose open status has not moved for RECONCILE_STALE_AFTER_MS
 * are re-read one by one. The message id is the order, time and status, so a repeat is applied once.
 */
@Injectable()
export class SweepService {
  private readonly logger = new Logger(SweepService.name);

  constructor(
    private readonly api: AlibabaApiClient,
    private readonly tokens: AlibabaTokenService,
    private readonly orders: OrdersRepository,
    private readonly publisher: OrderEventsPublisher,
    private readonly sync: SyncRepository,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async sweep(trigger: 'schedule' | 'manual', signal?: AbortSignal): Promise<SweepCounts> {
    const started = Date.now();
    const watermark = await this.sync.watermark('sweep');
    const from = new Date(
      Math.max(
        started - this.config.reconcileLookbackMs - this.config.reconcileOverlapMs,
        (watermark?.getTime() ?? started - this.config.reconcileLookbackMs) - this.config.reconcileOverlapMs,
      ),
    );
    const to = new Date(started + WINDOW_AHEAD_MS);
    const runId = await this.sync.startRun('sweep', trigger, { from, to });
    const counts: SweepCounts = { pages: 0, examined: 0, drifted: 0, unknown: 0, staleRead: 0 };
    const seen = new Set<string>();
    try {
      if (!this.tokens.configured)
        throw new AlibabaApiError(
          'auth',
          BUYER_ORDER_LIST.name,
          'no ALIBABA_ACCESS_TOKEN or ALIBABA_REFRESH_TOKEN: the sweep needs the buyer token',
        );
      await this.sweepWindow(from, to, counts, seen, signal);
      await this.rereadStale(counts, seen, signal);
      // Modifications during this run are in the next window (it starts before `started`).
      await this.sync.advanceWatermark('sweep', new Date(started));
      await this.sync.finishRun(runId, 'ok', counts, null);
      this.metrics.syncRuns.inc({ kind: 'sweep', outcome: 'ok' });
      if (counts.drifted + counts.unknown > 0) this.logger.warn({ msg: 'orders out of step with 1688; repairs queued', ...counts });
      return counts;
    } catch (error) {
      await this.sync.finishRun(runId, 'failed', counts, describe(error)).catch(() => undefined);
      this.metrics.syncRuns.inc({ kind: 'sweep', outcome: 'failed' });
      throw error;
    }
  }

  /**
   * Pages through the window. Only order creation times order 1688's list, and the window ends in
   * the future: an order modified meanwhile stays where it is, a new one comes in at the front,
   * so pages only ever repeat an order (harmless), never skip one.
   */
  private async sweepWindow(from: Date, to: Date, counts: SweepCounts, seen: Set<string>, signal?: AbortSignal): Promise<void> {
    for (let page = 1; page <= MAX_PAGES; page++) {
      const answer = await this.api.call(
        BUYER_ORDER_LIST,
        {
          modifyStartTime: formatAlibabaTime(from.getTime()),
          modifyEndTime: formatAlibabaTime(to.getTime()),
          page: String(page),
          pageSize: String(PAGE_SIZE),
        },
        signal,
      );
      counts.pages++;
      const result = answer.result;
      if (result === undefined || result === null) {
        if (Number(answer.totalRecord ?? 0) === 0) return;
        throw new AlibabaApiError('bad-answer', BUYER_ORDER_LIST.name, 'the answer has no result but a totalRecord');
      }
      if (!Array.isArray(result)) throw new AlibabaApiError('bad-answer', BUYER_ORDER_LIST.name, 'result is not a list');
      await this.compare(
        result.map((entry: unknown) => orderOf((entry as { baseInfo?: unknown } | null)?.baseInfo, BUYER_ORDER_LIST.name)),
        counts,
        seen,
      );
      if (result.length < PAGE_SIZE) return;
    }
  }

  /** Linked orders the window did not show whose open status has not moved for long: re-read one by one. */
  private async rereadStale(counts: SweepCounts, seen: Set<string>, signal?: AbortSignal): Promise<void> {
    const stale = await this.orders.staleLinked(
      new Date(Date.now() - this.config.reconcileStaleAfterMs),
      FINAL_STATUSES,
      this.config.reconcileStaleBatch,
    );
    for (const supplierOrderId of stale) {
      if (seen.has(supplierOrderId)) continue;
      try {
        const answer = await this.api.call(BUYER_ORDER_VIEW, { webSite: '1688', orderId: supplierOrderId }, signal);
        const baseInfo = (answer.result as { baseInfo?: unknown } | undefined)?.baseInfo;
        await this.compare([orderOf(baseInfo, BUYER_ORDER_VIEW.name)], counts, seen);
        counts.staleRead++;
      } catch (error) {
        // An order 1688 no longer shows is not a reason to stop the others.
        if (!(error instanceof AlibabaApiError) || error.kind !== 'not-found') throw error;
        this.logger.warn({ msg: 'a linked order is not found at 1688', supplierOrderId });
      }
    }
  }

  private async compare(theirs: AlibabaOrder[], counts: SweepCounts, seen: Set<string>): Promise<void> {
    const ours = await this.orders.supplierStates(theirs.map((o) => o.id));
    const repairs: InboundMessage[] = [];
    for (const order of theirs) {
      // Pages may repeat an order (new ones come in at the front): each is compared once.
      if (seen.has(order.id)) continue;
      seen.add(order.id);
      counts.examined++;
      this.metrics.reconciledOrders.inc({ result: 'examined' });
      const here = ours.get(order.id);
      if (here && here.status === order.status) continue;
      if (here && here.atMs !== null && order.modifiedAt <= here.atMs) continue; // ours is newer: never overwritten
      if (here) counts.drifted++;
      else counts.unknown++;
      this.metrics.reconciledOrders.inc({ result: here ? 'drifted' : 'unknown' });
      repairs.push(reconcileMessage(order));
    }
    await Promise.all(repairs.map((message) => this.publisher.publish(message)));
  }
}

function reconcileMessage(order: AlibabaOrder): InboundMessage {
  const occurredAt = new Date(order.modifiedAt).toISOString();
  return {
    source: '1688-reconcile',
    messageId: `${order.id}-${order.modifiedAt}-${order.status}`,
    topic: 'RECONCILE_ORDER_STATUS',
    receivedAt: new Date().toISOString(),
    body: stringifyLosslessJson(order.raw),
    changes: [{ orderId: null, supplierOrderId: order.id, status: order.status, occurredAt, bornAt: order.modifiedAt }],
    ignoredReason: null,
  };
}

/** baseInfo's id (idOfStr when given: a bare number above 2^53 elsewhere), status and modifyTime. */
function orderOf(baseInfo: unknown, api: string): AlibabaOrder {
  const info = baseInfo as Record<string, unknown> | null | undefined;
  if (!info || typeof info !== 'object') throw new AlibabaApiError('bad-answer', api, 'an order without baseInfo');
  const idOfStr = typeof info.idOfStr === 'string' && /^\d{1,30}$/.test(info.idOfStr) ? info.idOfStr : null;
  const id =
    idOfStr ??
    (isLosslessNumber(info.id) ? info.id.value : typeof info.id === 'number' && Number.isSafeInteger(info.id) ? String(info.id) : null);
  if (id === null) throw new AlibabaApiError('bad-answer', api, 'an order without a readable id');
  if (typeof info.status !== 'string' || info.status === '' || info.status.length > 64)
    throw new AlibabaApiError('bad-answer', api, `order ${id} has no status`);
  const modifiedAt = parseAlibabaTime(info.modifyTime);
  if (modifiedAt === null) throw new AlibabaApiError('bad-answer', api, `order ${id} has no readable modifyTime`);
  return { id, status: info.status, modifiedAt, raw: info };
}
