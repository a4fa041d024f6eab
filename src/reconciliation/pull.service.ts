import { BadRequestException, Inject, Injectable, Logger } from '@nestjs/common';
import { AlibabaApiClient } from '../alibaba/alibaba-api.client.js';
import { AlibabaApiError, PUSH_MESSAGE_CONFIRM, PUSH_MESSAGE_LIST } from '../alibaba/alibaba-api.js';
import { formatAlibabaTime } from '../alibaba/alibaba-time.js';
import { isLosslessNumber, stringifyLosslessJson } from '../common/lossless-json.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/app-config.module.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { InboundMessage } from '../queues/order-events.queue.js';
import { parseAlibabaMessage } from '../webhooks/alibaba-message.js';
import { OrderEventsPublisher } from '../webhooks/order-events.publisher.js';
import { SyncRepository } from './sync.repository.js';

const PAGE_SIZE = 200;
/** A run that keeps finding messages stops after this many pages (the next run goes on). */
const MAX_PAGES = 5_000;

export interface PullCounts {
  pages: number;
  pulled: number;
  confirmed: number;
  unreadable: number;
  unconfirmable: number;
  oldestMessageAgeMs: number;
  [key: string]: number;
}

/**
 * Gap filling: the messages 1688 holds for this app (pushes it could not deliver), taken in as
 * pushes are (the same inbox dedupe, the same ordering rules) and confirmed only once they are
 * durably queued. Confirmed messages leave 1688's list and the pages after them shift, so the
 * run reads page 1 again after each confirm, until the list is empty: nothing is skipped. A
 * crash between queueing and confirming queues the same messages again next time; the inbox
 * applies them once.
 */
@Injectable()
export class PullService {
  private readonly logger = new Logger(PullService.name);

  constructor(
    private readonly api: AlibabaApiClient,
    private readonly publisher: OrderEventsPublisher,
    private readonly sync: SyncRepository,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async pull(trigger: 'schedule' | 'manual', signal?: AbortSignal): Promise<PullCounts> {
    const now = Date.now();
    const watermark = await this.sync.watermark('pull');
    const from = new Date(
      Math.max(
        now - this.config.pushPullLookbackMs,
        (watermark?.getTime() ?? now - this.config.pushPullLookbackMs) - this.config.pushPullOverlapMs,
      ),
    );
    const to = new Date(now);
    const runId = await this.sync.startRun('pull', trigger, { from, to });
    const counts: PullCounts = { pages: 0, pulled: 0, confirmed: 0, unreadable: 0, unconfirmable: 0, oldestMessageAgeMs: 0 };
    try {
      await this.drain(from, to, counts, signal);
      await this.sync.advanceWatermark('pull', to);
      await this.sync.finishRun(runId, 'ok', counts, null);
      this.metrics.syncRuns.inc({ kind: 'pull', outcome: 'ok' });
      if (counts.pulled > 0) this.logger.warn({ msg: 'pulled messages 1688 had not delivered', ...counts });
      return counts;
    } catch (error) {
      await this.sync.finishRun(runId, 'failed', counts, describe(error)).catch(() => undefined);
      this.metrics.syncRuns.inc({ kind: 'pull', outcome: 'failed' });
      throw error;
    }
  }

  private async drain(from: Date, to: Date, counts: PullCounts, signal?: AbortSignal): Promise<void> {
    const stuck = new Set<string>();
    let page = 1;
    while (counts.pages < MAX_PAGES) {
      const answer = await this.api.call(
        PUSH_MESSAGE_LIST,
        {
          createStartTime: formatAlibabaTime(from.getTime()),
          createEndTime: formatAlibabaTime(to.getTime()),
          page: String(page),
          pageSize: String(PAGE_SIZE),
        },
        signal,
      );
      counts.pages++;
      const datas = listOf(answer);
      if (datas.length === 0) return;
      const { messages, ids } = this.read(datas, counts);
      const fresh = ids.filter((id) => !stuck.has(id));
      if (messages.length > 0) {
        // Durably queued first (the publisher resolves once Redis holds the jobs), confirmed after.
        await Promise.all(messages.map((message) => this.publisher.publish(message)));
        counts.pulled += messages.length;
        this.metrics.pulledMessages.inc({ outcome: 'pulled' }, messages.length);
      }
      if (fresh.length > 0) {
        await this.api.call(PUSH_MESSAGE_CONFIRM, { msgIdList: `[${fresh.join(',')}]` }, signal);
        counts.confirmed += fresh.length;
        this.metrics.pulledMessages.inc({ outcome: 'confirmed' }, fresh.length);
        for (const id of fresh) stuck.add(id);
      }
      // The same page again while confirming empties it (what follows moves up into it); a page
      // of nothing but messages that stay (no msgId, or confirmed and still listed): the next.
      if (fresh.length === 0) page++;
    }
  }

  /** The messages of a page as pushes, and the ids to confirm; a message that cannot be read is still taken in, as ignored. */
  private read(datas: unknown[], counts: PullCounts): { messages: InboundMessage[]; ids: string[] } {
    const messages: InboundMessage[] = [];
    const ids: string[] = [];
    const receivedAt = new Date();
    for (const data of datas) {
      const text = stringifyLosslessJson(data);
      const msgId = idOf((data as Record<string, unknown> | null)?.msgId);
      const born = Number((data as Record<string, unknown> | null)?.gmtBorn);
      if (Number.isFinite(born)) counts.oldestMessageAgeMs = Math.max(counts.oldestMessageAgeMs, receivedAt.getTime() - born);
      try {
        messages.push({ ...parseAlibabaMessage(text, receivedAt), via: 'pull' });
      } catch (error) {
        counts.unreadable++;
        if (msgId === null) {
          counts.unconfirmable++;
          this.metrics.pulledMessages.inc({ outcome: 'unconfirmable' });
          continue;
        }
        const reason = error instanceof BadRequestException ? JSON.stringify(error.getResponse()) : (error as Error).message;
        messages.push({
          source: '1688',
          messageId: msgId,
          topic: 'UNREADABLE',
          receivedAt: receivedAt.toISOString(),
          body: text,
          changes: [],
          ignoredReason: `pulled message cannot be read: ${reason}`.slice(0, 500),
          via: 'pull',
        });
      }
      if (msgId !== null) ids.push(msgId);
    }
    return { messages, ids };
  }
}

/** `pushMessagePage.datas`; an answer without it is a bad answer, an empty list the end. */
function listOf(answer: Record<string, unknown>): unknown[] {
  const page = answer.pushMessagePage as { datas?: unknown; totalCount?: unknown } | undefined;
  if (!page || typeof page !== 'object')
    throw new AlibabaApiError('bad-answer', PUSH_MESSAGE_LIST.name, 'the answer has no pushMessagePage');
  if (page.datas === undefined || page.datas === null) {
    if (Number(page.totalCount ?? 0) === 0) return [];
    throw new AlibabaApiError('bad-answer', PUSH_MESSAGE_LIST.name, 'pushMessagePage has no datas but a totalCount');
  }
  if (!Array.isArray(page.datas)) throw new AlibabaApiError('bad-answer', PUSH_MESSAGE_LIST.name, 'pushMessagePage.datas is not a list');
  return page.datas;
}

/** A msgId as its digits (1688's ids are numbers above 2^53), or null. */
function idOf(value: unknown): string | null {
  if (isLosslessNumber(value)) return /^\d{1,30}$/.test(value.value) ? value.value : null;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  if (typeof value === 'string' && /^\d{1,30}$/.test(value)) return value;
  return null;
}

export function describe(error: unknown): string {
  return ((error as Error)?.message ?? String(error)).slice(0, 1_000);
}
