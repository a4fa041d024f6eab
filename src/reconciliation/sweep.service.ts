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
import { edgePages, inLanes, isLastPage, lanesFor, slicesFromEdges, totalRecordOf, type PageRead, type Slice } from './sweep-slices.js';
import { SyncRepository } from './sync.repository.js';

const PAGE_SIZE = 50;
/** Pages of one slice at most (50 × 100,000 orders). */
const MAX_PAGES = 100_000;
/** The window ends this far ahead, so that an order modified while the sweep runs stays in it (and no page shifts past it). */
const WINDOW_AHEAD_MS = 3_600_000;
/** At most this many slices read at once (and re-reads in flight), whatever the limit and answer time. */
export const MAX_LANES = 16;
/** A slice costs one extra call (the read that finds its edge): only a window of this many pages per slice is cut. */
export const MIN_PAGES_PER_SLICE = 4;
/**
 * Neighbouring slices share this much creation time: complete whether 1688 takes a bound as
 * inclusive or exclusive, to the millisecond or to the second. Orders created in the shared
 * second are read twice, and compared once.
 */
export const EDGE_OVERLAP_MS = 1_000;
/** 1688 statuses after which nothing changes: a stale order in one of them is not re-read. */
export const FINAL_STATUSES = ['success', 'cancel', 'terminated'];

export interface SweepCounts {
  pages: number;
  examined: number;
  drifted: number;
  unknown: number;
  staleRead: number;
  /** Slices of the window read at once (creation-time ranges; 1 when it was read as one list). */
  slices: number;
  [key: string]: number;
}

interface SweepWindow {
  from: Date;
  to: Date;
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
    const counts: SweepCounts = { pages: 0, slices: 1, examined: 0, drifted: 0, unknown: 0, staleRead: 0 };
    const seen = new Set<string>();
    try {
      if (!this.tokens.configured)
        throw new AlibabaApiError(
          'auth',
          BUYER_ORDER_LIST.name,
          'no ALIBABA_ACCESS_TOKEN or ALIBABA_REFRESH_TOKEN: the sweep needs the buyer token',
        );
      await this.sweepWindow({ from, to }, counts, seen, signal);
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
   * Reads the window. 1688's list is sorted by creation time alone, newest first, and the window
   * ends in the future: an order modified meanwhile stays where it is (its creation time never
   * changes, its modifyTime stays in the window), a new one comes in at the front or, an old order
   * modified now, at its place by creation time. Nothing leaves the list and nothing moves towards
   * its front, so pages read one after another only ever repeat an order (harmless), never skip
   * one present when the sweep began (one modified since is in the next window).
   *
   * That holds for any range of creation times, so when pages are many and 1688 slow the window
   * is cut by creation time into slices read at once, each page after page, all through the
   * fleet's rate gate. Page 1 of the whole window gives the total and the answer time; as many
   * slices as keep the limit busy (lanesFor) are cut at the creation times that start pages spread
   * evenly over the list (those pages are read at once too, and compared like any other); the
   * newest slice goes on from page 2, the oldest has no start. Where the edges fall decides only
   * how even the slices are: together they cover every creation time (slicesFromEdges).
   */
  private async sweepWindow(window: SweepWindow, counts: SweepCounts, seen: Set<string>, signal?: AbortSignal): Promise<void> {
    const first = await this.readPage(window, { firstPage: 1 }, 1, counts, seen, signal);
    if (isLastPage(1, PAGE_SIZE, first)) return;
    const pages = first.total === null ? 0 : Math.ceil(first.total / PAGE_SIZE);
    const lanes = lanesFor(
      this.config.alibabaApiRateLimit,
      this.api.answerTimeMs(BUYER_ORDER_LIST),
      pages / MIN_PAGES_PER_SLICE,
      MAX_LANES,
    );
    let slices: Slice[] = [{ firstPage: 2 }];
    if (lanes > 1) {
      const edges = await inLanes(
        edgePages(pages, lanes).map((page) => async (laneSignal: AbortSignal) => {
          const read = await this.readPage(window, { firstPage: 1 }, page, counts, seen, laneSignal);
          return read.firstCreatedAt;
        }),
        lanes,
        signal,
      );
      slices = slicesFromEdges(
        edges.filter((edge): edge is number => edge !== null),
        EDGE_OVERLAP_MS,
      );
    }
    counts.slices = slices.length;
    await inLanes(
      slices.map((slice) => (laneSignal: AbortSignal) => this.readSlice(window, slice, counts, seen, laneSignal)),
      slices.length,
      signal,
    );
  }

  /** One slice, page after page from its first, until a short page or the pages hold its total. */
  private async readSlice(window: SweepWindow, slice: Slice, counts: SweepCounts, seen: Set<string>, signal: AbortSignal): Promise<void> {
    for (let page = slice.firstPage; page <= MAX_PAGES; page++) {
      const read = await this.readPage(window, slice, page, counts, seen, signal);
      if (isLastPage(page, PAGE_SIZE, read)) return;
    }
  }

  /** One page of the window's orders created within the slice, compared with ours. */
  private async readPage(
    window: SweepWindow,
    slice: Slice,
    page: number,
    counts: SweepCounts,
    seen: Set<string>,
    signal?: AbortSignal,
  ): Promise<PageRead> {
    const params: Record<string, string> = {
      modifyStartTime: formatAlibabaTime(window.from.getTime()),
      modifyEndTime: formatAlibabaTime(window.to.getTime()),
    };
    if (slice.createStart !== undefined) params.createStartTime = formatAlibabaTime(slice.createStart);
    if (slice.createEnd !== undefined) params.createEndTime = formatAlibabaTime(slice.createEnd);
    params.page = String(page);
    params.pageSize = String(PAGE_SIZE);
    const answer = await this.api.call(BUYER_ORDER_LIST, params, signal);
    counts.pages++;
    const total = totalRecordOf(answer.totalRecord);
    const before = (page - 1) * PAGE_SIZE;
    const result = answer.result;
    if (result === undefined || result === null) {
      // No list: past the end of it, or an answer that lost it.
      if (total === null || total <= before) return { length: 0, total, firstCreatedAt: null };
      throw new AlibabaApiError('bad-answer', BUYER_ORDER_LIST.name, 'the answer has no result but a totalRecord');
    }
    if (!Array.isArray(result)) throw new AlibabaApiError('bad-answer', BUYER_ORDER_LIST.name, 'result is not a list');
    const infos = result.map((entry: unknown) => (entry as { baseInfo?: unknown } | null)?.baseInfo);
    await this.compare(
      infos.map((info) => orderOf(info, BUYER_ORDER_LIST.name)),
      counts,
      seen,
    );
    return {
      length: result.length,
      // A total below what this answer itself shows is not believed: the short page decides then.
      total: total !== null && total >= before + result.length ? total : null,
      firstCreatedAt: infos.length > 0 ? parseAlibabaTime((infos[0] as Record<string, unknown>).createTime) : null,
    };
  }

  /**
   * Linked orders the window did not show whose open status has not moved for long: re-read one
   * by one (as many at once as keep the limit busy), those whose status was known at 1688 longest
   * ago first. Each one chosen is marked as checked at 1688 now, re-read or shown by the window
   * (or no longer found there), so that the next sweep chooses the next ones, not the same again.
   */
  private async rereadStale(counts: SweepCounts, seen: Set<string>, signal?: AbortSignal): Promise<void> {
    const stale = await this.orders.staleLinked(
      new Date(Date.now() - this.config.reconcileStaleAfterMs),
      FINAL_STATUSES,
      this.config.reconcileStaleBatch,
    );
    const checked = stale.filter((supplierOrderId) => seen.has(supplierOrderId));
    const toRead = stale.filter((supplierOrderId) => !seen.has(supplierOrderId));
    const lanes = lanesFor(this.config.alibabaApiRateLimit, this.api.answerTimeMs(BUYER_ORDER_VIEW), toRead.length, MAX_LANES);
    try {
      await inLanes(
        toRead.map((supplierOrderId) => async (laneSignal: AbortSignal) => {
          try {
            const answer = await this.api.call(BUYER_ORDER_VIEW, { webSite: '1688', orderId: supplierOrderId }, laneSignal);
            const baseInfo = (answer.result as { baseInfo?: unknown } | undefined)?.baseInfo;
            await this.compare([orderOf(baseInfo, BUYER_ORDER_VIEW.name)], counts, seen);
            counts.staleRead++;
          } catch (error) {
            // An order 1688 no longer shows is not a reason to stop the others.
            if (!(error instanceof AlibabaApiError) || error.kind !== 'not-found') throw error;
            this.logger.warn({ msg: 'a linked order is not found at 1688', supplierOrderId });
          }
          checked.push(supplierOrderId);
        }),
        lanes,
        signal,
      );
    } catch (error) {
      // What was read before the failure still counts as checked; the sweep's own error is the one to report.
      await this.orders.markSupplierChecked(checked, new Date()).catch((markError: Error) => {
        this.logger.warn({ msg: 'could not mark re-read orders as checked', count: checked.length, err: markError.message });
      });
      throw error;
    }
    await this.orders.markSupplierChecked(checked, new Date());
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
