import { describe, expect, it } from 'vitest';
import type { AlibabaApiClient } from '../alibaba/alibaba-api.client.js';
import { AlibabaApiError, BUYER_ORDER_LIST, BUYER_ORDER_VIEW, type AlibabaApi } from '../alibaba/alibaba-api.js';
import type { AlibabaTokenService } from '../alibaba/alibaba-token.service.js';
import { formatAlibabaTime, parseAlibabaTime } from '../alibaba/alibaba-time.js';
import type { AppConfig } from '../config/app-config.js';
import type { MetricsService } from '../metrics/metrics.service.js';
import type { OrdersRepository } from '../orders/repositories/orders.repository.js';
import type { InboundMessage } from '../queues/order-events.queue.js';
import type { OrderEventsPublisher } from '../webhooks/order-events.publisher.js';
import { SweepService } from './sweep.service.js';
import type { SyncRepository } from './sync.repository.js';

/**
 * The sweep against a 1688 order list held in memory (creation time newest first, as 1688 and
 * the fake sort it), whose answers come back in a random order a few milliseconds late, and
 * which can change between any two answers: orders created, old orders modified into the window.
 */
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface Order1688 {
  id: string;
  status: string;
  createTime: number;
  modifyTime: number;
}

class Memory1688 {
  readonly orders = new Map<string, Order1688>();
  readonly calls: { api: string; params: Record<string, string> }[] = [];
  inFlight = 0;
  maxInFlight = 0;
  giveTotal = true;
  /** Runs just before each answer is made: the list as the answer sees it. */
  beforeAnswer: ((call: number) => void) | null = null;
  /** Makes the answer to a call fail. */
  failOn: ((params: Record<string, string>) => boolean) | null = null;
  private seed = 1688;

  random(): number {
    this.seed = (this.seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return this.seed / 2 ** 31;
  }

  add(order: Order1688): void {
    this.orders.set(order.id, order);
  }

  async call(api: AlibabaApi, params: Record<string, string>, signal?: AbortSignal): Promise<Record<string, unknown>> {
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    try {
      await new Promise((resolve) => setTimeout(resolve, Math.floor(this.random() * 4)));
      signal?.throwIfAborted();
      this.beforeAnswer?.(this.calls.length);
      this.calls.push({ api: api.name, params });
      if (this.failOn?.(params)) throw new AlibabaApiError('refused', api.name, 'refused by the test');
      if (api.name === BUYER_ORDER_VIEW.name) {
        const order = this.orders.get(params.orderId);
        if (!order) throw new AlibabaApiError('not-found', api.name, 'ORDER_NOT_EXIST');
        return { result: { baseInfo: baseInfo(order) } };
      }
      const time = (name: string) => (params[name] === undefined ? undefined : (parseAlibabaTime(params[name]) ?? NaN));
      const [ms, me, cs, ce] = ['modifyStartTime', 'modifyEndTime', 'createStartTime', 'createEndTime'].map(time);
      const matches = [...this.orders.values()]
        .filter(
          (o) =>
            (ms === undefined || o.modifyTime >= ms) &&
            (me === undefined || o.modifyTime <= me) &&
            (cs === undefined || o.createTime >= cs) &&
            (ce === undefined || o.createTime <= ce),
        )
        .sort((a, b) => b.createTime - a.createTime || (BigInt(b.id) > BigInt(a.id) ? 1 : -1));
      const size = Number(params.pageSize);
      const from = (Number(params.page) - 1) * size;
      const answer: Record<string, unknown> = { result: matches.slice(from, from + size).map((o) => ({ baseInfo: baseInfo(o) })) };
      if (this.giveTotal) answer.totalRecord = matches.length;
      return answer;
    } finally {
      this.inFlight--;
    }
  }

  listCalls(): Record<string, string>[] {
    return this.calls.filter((c) => c.api === BUYER_ORDER_LIST.name).map((c) => c.params);
  }
}

function baseInfo(o: Order1688) {
  return {
    id: Number(o.id),
    idOfStr: o.id,
    status: o.status,
    createTime: formatAlibabaTime(o.createTime),
    modifyTime: formatAlibabaTime(o.modifyTime),
  };
}

interface Harness {
  service: SweepService;
  fake: Memory1688;
  /** Every supplier order the sweep compared with ours, as often as it did. */
  compared: string[];
  published: InboundMessage[];
  checked: string[][];
  runs: string[];
}

function harness(options: { limit?: number; answerMs?: number | null; stale?: string[]; ours?: Map<string, string> } = {}): Harness {
  const fake = new Memory1688();
  const compared: string[] = [];
  const published: InboundMessage[] = [];
  const checked: string[][] = [];
  const runs: string[] = [];
  const answerMs = options.answerMs === undefined ? 100 : options.answerMs;
  const api = { call: fake.call.bind(fake), answerTimeMs: () => answerMs } as unknown as AlibabaApiClient;
  const orders = {
    // Ours: the status 1688 had when the test began, unless given.
    supplierStates: async (ids: string[]) => {
      compared.push(...ids);
      return new Map(
        ids.map((id) => [id, { status: options.ours?.get(id) ?? fake.orders.get(id)?.status ?? null, atMs: Date.now() - 30 * DAY }]),
      );
    },
    staleLinked: async () => options.stale ?? [],
    markSupplierChecked: async (ids: string[]) => {
      checked.push([...ids]);
    },
  } as unknown as OrdersRepository;
  const publisher = { publish: async (message: InboundMessage) => void published.push(message) } as unknown as OrderEventsPublisher;
  const sync = {
    watermark: async () => null,
    startRun: async () => '1',
    advanceWatermark: async () => undefined,
    finishRun: async (_id: string, outcome: string) => void runs.push(outcome),
  } as unknown as SyncRepository;
  const counter = { inc: () => undefined };
  const metrics = { reconciledOrders: counter, syncRuns: counter } as unknown as MetricsService;
  const config = {
    alibabaApiRateLimit: options.limit ?? 20,
    reconcileLookbackMs: DAY,
    reconcileOverlapMs: 10 * 60_000,
    reconcileStaleAfterMs: 6 * HOUR,
    reconcileStaleBatch: 200,
  } as AppConfig;
  const service = new SweepService(api, { configured: true } as AlibabaTokenService, orders, publisher, sync, metrics, config);
  return { service, fake, compared, published, checked, runs };
}

/** `count` orders created over the last 20 hours, each modified up to 2 hours later (and before now). */
function seed(fake: Memory1688, count: number, idBase = 167_539_019_430_000_000n): void {
  const now = Date.now();
  for (let i = 0; i < count; i++) {
    const createTime = Math.round(now - 20 * HOUR + (i * 20 * HOUR) / count);
    fake.add({
      id: String(idBase + BigInt(i)),
      status: 'waitsellersend',
      createTime,
      modifyTime: Math.min(now - 60_000, createTime + Math.round(fake.random() * 2 * HOUR)),
    });
  }
}

describe('sweep: the window read in slices by creation time', () => {
  it('keeps several pages in flight when 1688 answers slowly, through slices read at once', async () => {
    const h = harness({ limit: 20, answerMs: 100 });
    seed(h.fake, 2_000);
    const counts = await h.service.sweep('manual');
    expect(counts.slices).toBe(3); // 20/s × 100 ms + 1
    expect(h.fake.maxInFlight).toBeGreaterThanOrEqual(2);
    expect(counts.examined).toBe(2_000);
    expect(new Set(h.compared).size).toBe(2_000);
    // Page 1 of the window, the two edge pages, then the slices: a few calls more than the 40 pages.
    expect(counts.pages).toBeLessThanOrEqual(40 + 2 * 3);
    const sliced = h.fake.listCalls().filter((p) => p.createStartTime !== undefined || p.createEndTime !== undefined);
    expect(sliced.length).toBeGreaterThan(0);
    expect(h.runs).toEqual(['ok']);
  });

  it('reads the window as one list when answers are fast or pages few', async () => {
    const fast = harness({ limit: 20, answerMs: null });
    seed(fast.fake, 2_000);
    expect(await fast.service.sweep('manual')).toMatchObject({ slices: 1, examined: 2_000, pages: 40 });
    expect(fast.fake.maxInFlight).toBe(1);
    const few = harness({ limit: 20, answerMs: 300 });
    seed(few.fake, 350); // 7 pages: under two slices' worth
    expect(await few.service.sweep('manual')).toMatchObject({ slices: 1, examined: 350, pages: 7 });
  });

  it.each([
    [20, 100],
    [100, 100],
    [200, 40],
    [20, null],
  ])(
    'skips no order of the window while orders are created and old ones modified into it (limit %i/s, answers %s ms)',
    async (limit, answerMs) => {
      const h = harness({ limit, answerMs });
      const now = Date.now();
      seed(h.fake, 3_000);
      // Created long before the window and modified in it; and ones outside it, some modified into it during the sweep.
      for (let i = 0; i < 200; i++)
        h.fake.add({
          id: String(167_539_019_420_000_000n + BigInt(i)),
          status: 'waitbuyerreceive',
          createTime: now - (30 + i / 4) * DAY,
          modifyTime: now - Math.round(h.fake.random() * 20 * HOUR),
        });
      for (let i = 0; i < 500; i++)
        h.fake.add({
          id: String(167_539_019_410_000_000n + BigInt(i)),
          status: 'success',
          createTime: now - (3 + i / 10) * DAY - Math.round(h.fake.random() * DAY),
          modifyTime: now - 3 * DAY + i,
        });
      const from = now - DAY - 10 * 60_000;
      const inWindow = [...h.fake.orders.values()].filter((o) => o.modifyTime >= from).map((o) => o.id);
      const all = [...h.fake.orders.values()];
      let created = 0;
      h.fake.beforeAnswer = () => {
        // Between any two answers: a new order (at the list's front), two orders of any age modified now.
        const at = Date.now();
        h.fake.add({ id: String(167_539_019_440_000_000n + BigInt(created++)), status: 'waitbuyerpay', createTime: at, modifyTime: at });
        for (let k = 0; k < 2; k++) {
          const order = all[Math.floor(h.fake.random() * all.length)];
          order.modifyTime = Math.max(at, order.modifyTime + 1);
        }
      };
      const counts = await h.service.sweep('manual');
      const compared = new Set(h.compared);
      expect(inWindow.filter((id) => !compared.has(id))).toEqual([]);
      expect(counts.examined).toBe(compared.size);
      expect(h.published).toEqual([]); // nothing changed its status: nothing to repair
    },
  );

  it('repairs a drifted order wherever its creation time falls, the oldest ones included', async () => {
    const now = Date.now();
    const ours = new Map<string, string>();
    const h = harness({ limit: 20, answerMs: 150, ours });
    seed(h.fake, 1_500);
    h.fake.add({ id: '167539019420000001', status: 'cancel', createTime: now - 80 * DAY, modifyTime: now - HOUR });
    const drifted = ['167539019420000001', '167539019430000000', '167539019430000750', '167539019430001499'];
    for (const id of drifted) ours.set(id, 'waitsellersend');
    h.fake.orders.get('167539019420000001')!.status = 'cancel';
    for (const id of drifted.slice(1)) h.fake.orders.get(id)!.status = 'cancel';
    const counts = await h.service.sweep('manual');
    expect(counts.slices).toBeGreaterThan(1);
    expect(counts.drifted).toBe(4);
    expect(h.published.map((m) => m.changes[0].supplierOrderId).sort()).toEqual([...drifted].sort());
  });

  it('stops the other slices and fails the run when one slice fails', async () => {
    const h = harness({ limit: 20, answerMs: 200 });
    seed(h.fake, 2_000);
    h.fake.failOn = (params) => params.createStartTime === undefined && params.createEndTime !== undefined && params.page === '3';
    await expect(h.service.sweep('manual')).rejects.toThrow(/refused by the test/);
    const calls = h.fake.calls.length;
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(h.fake.calls.length).toBe(calls); // nothing runs on after the failure
    expect(h.fake.inFlight).toBe(0);
    expect(h.runs).toEqual(['failed']);
  });
});

describe('sweep: no empty page after a full last one', () => {
  it.each([
    [100, 2],
    [150, 3],
    [120, 3],
    [50, 1],
  ])('%i orders in the window take %i pages', async (orders, pages) => {
    const h = harness({ answerMs: null });
    seed(h.fake, orders);
    const counts = await h.service.sweep('manual');
    expect(counts).toMatchObject({ pages, examined: orders });
    expect(h.fake.listCalls()).toHaveLength(pages);
  });

  it('stops on the short page when the answers give no totalRecord (an empty one after a full last one, then)', async () => {
    const h = harness({ answerMs: null });
    h.fake.giveTotal = false;
    seed(h.fake, 100);
    expect(await h.service.sweep('manual')).toMatchObject({ pages: 3, examined: 100 });
  });
});

describe('sweep: stale linked orders', () => {
  it('re-reads the ones the window did not show, and marks every one chosen as checked, not-found ones included', async () => {
    const h = harness({ stale: ['167539019430000001', '167539019490000001', '167539019490000002', '167539019499999999'] });
    seed(h.fake, 10); // 167539019430000001 is in the window
    const now = Date.now();
    for (const id of ['167539019490000001', '167539019490000002'])
      h.fake.add({ id, status: 'waitbuyerreceive', createTime: now - 10 * DAY, modifyTime: now - 9 * DAY });
    const counts = await h.service.sweep('manual');
    expect(counts.staleRead).toBe(2);
    expect(h.fake.calls.filter((c) => c.api === BUYER_ORDER_VIEW.name).map((c) => c.params.orderId)).not.toContain('167539019430000001');
    expect(h.checked).toHaveLength(1);
    expect([...h.checked[0]].sort()).toEqual(['167539019430000001', '167539019490000001', '167539019490000002', '167539019499999999']);
  });

  it('marks the ones read before a failure', async () => {
    const h = harness({ answerMs: null, stale: ['167539019490000001', '167539019490000002'] });
    const now = Date.now();
    for (const id of ['167539019490000001', '167539019490000002'])
      h.fake.add({ id, status: 'waitbuyerreceive', createTime: now - 10 * DAY, modifyTime: now - 9 * DAY });
    h.fake.failOn = (params) => params.orderId === '167539019490000002';
    await expect(h.service.sweep('manual')).rejects.toThrow(/refused/);
    expect(h.checked).toEqual([['167539019490000001']]);
  });
});
