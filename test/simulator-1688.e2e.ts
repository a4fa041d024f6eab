// The 1688 push simulator (tools/simulator-1688.mjs) against a tiny in-test receiver: no ordersync.
import { spawn } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startFake1688OpenApi } from '../tools/fake-1688-open-api.mjs';
import { startFakeSupplierApi } from '../tools/fake-supplier-api.mjs';
import { eventually } from './support/service.js';
import {
  DEFAULT_ID_BASE,
  TOPIC_BY_STATUS,
  parseCliArgs,
  planPushes,
  runSimulator,
  signMessage,
  type SimulatorReport,
} from '../tools/simulator-1688.mjs';

const SECRET = 'sim-secret';
const SIMULATOR = fileURLToPath(new URL('../tools/simulator-1688.mjs', import.meta.url));
const LIFECYCLES = [
  ['waitbuyerpay', 'waitsellersend', 'waitbuyerreceive', 'confirm_goods', 'success'],
  ['waitbuyerpay', 'cancel'],
  ['waitbuyerpay', 'waitsellersend', 'cancel'],
].map((l) => l.join(' > '));

/** One request as the receiver saw it. */
interface Received {
  arrival: number;
  at: number;
  msgId: string;
  orderId: string;
  status: string;
  type: string;
  msgSendTime: string;
  /** msgSendTime as epoch ms (UTC+8). */
  sentAt: number;
  gmtBorn: number;
  message: string;
  answer: number | 'destroy' | 'hold';
  /** How many times this msgId had arrived before this request. */
  previous: number;
}

type Decide = (msgId: string, previous: number, r: Omit<Received, 'answer'>) => number | 'destroy' | 'hold';

interface Receiver {
  baseUrl: string;
  records: Received[];
  rejected: string[];
  maxInFlight: number;
  sockets: Set<Socket>;
  seenSockets: number;
  close(): Promise<void>;
}

const receivers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

function chinaTimeToMs(text: string): number {
  expect(text).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  return Date.parse(`${text.replace(' ', 'T')}+08:00`);
}

/** A receiver that checks each push like 1688's official receiver would, and records it. */
async function startReceiver(options: { decide?: Decide; latencyMs?: number; secret?: string } = {}): Promise<Receiver> {
  const secret = options.secret ?? SECRET;
  const decide = options.decide ?? (() => 200);
  const seen = new Map<string, number>();
  const records: Received[] = [];
  const rejected: string[] = [];
  const sockets = new Set<Socket>();
  let seenSockets = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let arrival = 0;

  const reject = (res: ServerResponse, status: number, why: string) => {
    rejected.push(why);
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: why }));
  };

  const handle = (req: IncomingMessage, res: ServerResponse, raw: string) => {
    if (req.method !== 'POST' || req.url !== '/webhooks/1688') return reject(res, 404, `${req.method} ${req.url}`);
    if (req.headers['content-type'] !== 'application/x-www-form-urlencoded')
      return reject(res, 415, `content-type ${req.headers['content-type']}`);
    const params = new URLSearchParams(raw);
    if ([...params.keys()].sort().join(',') !== '_aop_signature,message') return reject(res, 400, `fields ${[...params.keys()].join(',')}`);
    const message = params.get('message')!;
    const signature = params.get('_aop_signature')!;
    if (!/^[0-9A-F]{40}$/.test(signature)) return reject(res, 401, `signature not upper-case hex: ${signature}`);
    const expected = createHmac('sha1', secret).update(`message${message}`).digest();
    if (!timingSafeEqual(Buffer.from(signature, 'hex'), expected)) return reject(res, 401, 'bad signature');

    // Ids straight from the text: JSON.parse would round the order id.
    const msgId = /^\{"msgId":(\d+),/.exec(message)?.[1];
    const orderId = /"data":\{"orderId":(\d+),/.exec(message)?.[1];
    if (!msgId || !orderId) return reject(res, 400, `no msgId/orderId in ${message}`);
    const parsed = JSON.parse(message);
    const { type, gmtBorn, userInfo, data } = parsed;
    if (Object.keys(parsed).join(',') !== 'msgId,type,gmtBorn,userInfo,data')
      return reject(res, 400, `keys ${Object.keys(parsed).join(',')}`);
    if (Object.keys(data).join(',') !== 'orderId,currentStatus,msgSendTime,buyerMemberId,sellerMemberId')
      return reject(res, 400, `data keys ${Object.keys(data).join(',')}`);
    if (!/^b2b-/.test(userInfo) || data.buyerMemberId !== 'b2b-1' || data.sellerMemberId !== 'b2b-2') return reject(res, 400, 'member ids');
    if (typeof gmtBorn !== 'number' || !Number.isInteger(gmtBorn)) return reject(res, 400, 'gmtBorn');

    const previous = seen.get(msgId) ?? 0;
    seen.set(msgId, previous + 1);
    const base = {
      arrival: arrival++,
      at: performance.now(),
      msgId,
      orderId,
      status: data.currentStatus as string,
      type: type as string,
      msgSendTime: data.msgSendTime as string,
      sentAt: chinaTimeToMs(data.msgSendTime),
      gmtBorn,
      message,
      previous,
    };
    const answer = decide(msgId, previous, base);
    records.push({ ...base, answer });
    if (answer === 'destroy') return req.socket.destroy();
    if (answer === 'hold') return;
    const reply = () =>
      res.writeHead(answer, { 'content-type': 'application/json' }).end(answer < 300 ? '{"success":true}' : '{"error":"try again"}');
    if (options.latencyMs) setTimeout(reply, options.latencyMs);
    else reply();
  };

  const server = createServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.once('close', () => inFlight--);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  server.on('connection', (socket) => {
    seenSockets++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const receiver: Receiver = {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    records,
    rejected,
    get maxInFlight() {
      return maxInFlight;
    },
    sockets,
    get seenSockets() {
      return seenSockets;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  receivers.push(receiver);
  return receiver;
}

const groupBy = <T>(items: T[], key: (t: T) => string) => {
  const map = new Map<string, T[]>();
  for (const item of items) {
    const list = map.get(key(item)) ?? [];
    list.push(item);
    map.set(key(item), list);
  }
  return map;
};

/** First 2xx-acknowledged copy of every msgId, in arrival order. */
const acknowledgedUnique = (records: Received[]) => {
  const out = new Map<string, Received>();
  for (const r of records) if (typeof r.answer === 'number' && r.answer < 300 && !out.has(r.msgId)) out.set(r.msgId, r);
  return [...out.values()];
};

/** Each order's newest status by msgSendTime, as the receiver recorded it. */
const newestByOrder = (unique: Received[]) => {
  const out: Record<string, string> = {};
  for (const [orderId, list] of groupBy(unique, (r) => r.orderId))
    out[orderId] = list.reduce((a, b) => (b.sentAt > a.sentAt ? b : a)).status;
  return out;
};

describe('1688 push simulator', () => {
  it('signs like 1688 (contract vector)', () => {
    const message =
      '{"msgId":123,"type":"ORDER_BUYER_VIEW_ORDER_PAY","gmtBorn":1586227869437,"userInfo":"b2b-1676547900b7bb3","data":{"orderId":167539019420540000,"currentStatus":"waitsellersend"}}';
    expect(signMessage('test123', message)).toBe('607268A312164B246810C1E4D054C0710D03D9FC');
  });

  it('plays complete, ordered lifecycles with duplicates, reordering and retried 503s', async () => {
    // 503 to the first delivery of every third msgId: only retries get those through.
    const receiver = await startReceiver({ decide: (msgId, previous) => (previous === 0 && BigInt(msgId) % 3n === 0n ? 503 : 200) });
    const ids = Array.from({ length: 40 }, (_, i) => String(167539019420540000n + 1n + BigInt(i) * 7919n));
    ids.push('9007199254740993123'); // 19 digits, far above 2^53
    const progress: unknown[] = [];
    const report = await runSimulator({
      target: receiver.baseUrl,
      appSecret: SECRET,
      ids,
      rate: 2000,
      concurrency: 8,
      duplicateRate: 0.2,
      reorderRate: 0.3,
      cancelRate: 0.3,
      retries: 3,
      retryBaseMs: 5,
      seed: 42,
      progressIntervalMs: 20,
      onProgress: (p) => progress.push(p),
    });
    const { records } = receiver;
    expect(receiver.rejected).toEqual([]);

    // Every order, every id digit for digit, and nothing else.
    const unique = acknowledgedUnique(records);
    const byOrder = groupBy(unique, (r) => r.orderId);
    expect([...byOrder.keys()].sort()).toEqual([...ids].sort());
    expect(unique.length).toBe(report.messages);
    expect(Number(ids[0]) > Number.MAX_SAFE_INTEGER).toBe(true);

    // Complete lifecycles, strictly ordered by msgSendTime (>= 1 s apart), topics matching statuses.
    const endings = new Set<string>();
    for (const [, list] of byOrder) {
      const ordered = [...list].sort((a, b) => a.sentAt - b.sentAt);
      expect(LIFECYCLES).toContain(ordered.map((r) => r.status).join(' > '));
      endings.add(ordered.at(-1)!.status);
      for (let i = 1; i < ordered.length; i++) {
        expect(ordered[i].sentAt - ordered[i - 1].sentAt).toBeGreaterThanOrEqual(1000);
        expect(ordered[i].gmtBorn).toBeGreaterThan(ordered[i - 1].gmtBorn);
      }
      for (const r of list) {
        expect(r.type).toBe(TOPIC_BY_STATUS[r.status as keyof typeof TOPIC_BY_STATUS]);
        expect(r.gmtBorn - r.sentAt).toBeGreaterThanOrEqual(0);
        expect(r.gmtBorn - r.sentAt).toBeLessThan(1000);
      }
    }
    expect(endings).toEqual(new Set(['success', 'cancel']));
    // msgIds are unique per message: one msgId is always the same order and status.
    const msgIdBodies = groupBy(records, (r) => r.msgId);
    for (const [, copies] of msgIdBodies) expect(new Set(copies.map((c) => c.message)).size).toBe(1);

    // Duplicates: the same msgId acknowledged again, with the very same text.
    const acks = records.filter((r) => r.answer === 200);
    const duplicates = acks.length - unique.length;
    expect(report.duplicatesSent).toBeGreaterThan(0);
    expect(duplicates).toBe(report.duplicatesSent);
    expect([...msgIdBodies.values()].filter((copies) => copies.filter((c) => c.answer === 200).length === 2).length).toBe(
      report.duplicatesSent,
    );

    // Reordering: a later message of an order arrived before an earlier one.
    let inversions = 0;
    for (const [, list] of byOrder) {
      const arrived = [...list].sort((a, b) => a.arrival - b.arrival);
      for (let i = 1; i < arrived.length; i++) if (arrived[i].sentAt < Math.max(...arrived.slice(0, i).map((r) => r.sentAt))) inversions++;
    }
    expect(report.reordered).toBeGreaterThan(0);
    expect(inversions).toBeGreaterThan(0);

    // Retries recovered every 503.
    const refused = records.filter((r) => r.answer === 503).length;
    expect(refused).toBeGreaterThan(0);
    expect(report).toMatchObject({ failed: 0, retried: refused, notSent: 0, aborted: false, failures: [] });
    expect(report.sent).toBe(report.messages + report.duplicatesSent);
    expect(report.acknowledged).toBe(report.sent);
    expect(report.acknowledgedMessages).toBe(unique.length);
    expect(report.requests).toBe(records.length);
    expect(report.responses).toEqual({ '200': acks.length, '503': refused });

    // The report's verdict matches what the receiver saw.
    expect(report.lastStatusByOrder).toEqual(newestByOrder(unique));
    const byStatus: Record<string, number> = {};
    for (const r of unique) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    expect(report.byStatus).toEqual(byStatus);
    expect(report.ackLatencyMs.p50).toBeGreaterThan(0);
    expect(report.ackLatencyMs.p99).toBeGreaterThanOrEqual(report.ackLatencyMs.p50);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[0]).toMatchObject({ total: report.sent });
  });

  it('replays the same message sequence for the same seed, and another for another seed', async () => {
    const common = {
      appSecret: SECRET,
      count: 12,
      duplicateRate: 0.2,
      reorderRate: 0.3,
      cancelRate: 0.3,
      startTime: '2026-03-01T00:00:00Z',
      msgIdBase: 5_000_000,
    };
    const run = async (seed: number) => {
      const receiver = await startReceiver();
      const report = await runSimulator({ ...common, seed, target: receiver.baseUrl, rate: 0, concurrency: 1 });
      expect(report).toMatchObject({ failed: 0, seed, startTime: Date.parse('2026-03-01T00:00:00Z'), msgIdBase: 5_000_000 });
      return { report, sequence: receiver.records.map((r) => r.message) };
    };
    const a = await run(7);
    const b = await run(7);
    const c = await run(8);
    expect(b.sequence).toEqual(a.sequence);
    expect(b.report.lastStatusByOrder).toEqual(a.report.lastStatusByOrder);
    expect(c.sequence).not.toEqual(a.sequence);
    expect(planPushes({ ...common, seed: 7 }).deliveries.map((d) => d.message)).toEqual(a.sequence);
    expect(a.sequence[0]).toContain('"msgSendTime":"2026-03-01 08:');
    expect(new Set(a.sequence.map((m) => /"msgId":(\d+)/.exec(m)![1])).size).toBe(a.report.messages);
  });

  it('pushes statuses for the ids the fake supplier API answered', async () => {
    const api = await startFakeSupplierApi({ seed: 3 });
    try {
      const supplierOrderIds: string[] = [];
      for (const orderId of ['A-1', 'A-2', 'A-3', 'A-4']) {
        const response = await fetch(api.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': orderId },
          body: JSON.stringify({ orderId, payload: { sku: 'X' } }),
        });
        expect(response.status).toBe(201);
        supplierOrderIds.push(((await response.json()) as { supplierOrderId: string }).supplierOrderId);
      }
      // count mode generates the same ids as a fresh fake: idBase + n.
      expect(planPushes({ appSecret: SECRET, count: 4, seed: 1 }).orders).toEqual(supplierOrderIds);
      expect(supplierOrderIds[0]).toBe(String(BigInt(DEFAULT_ID_BASE) + 1n));

      const receiver = await startReceiver();
      const report = await runSimulator({
        target: receiver.baseUrl,
        appSecret: SECRET,
        ids: supplierOrderIds,
        rate: 0,
        cancelRate: 0,
        seed: 9,
      });
      expect(report.failed).toBe(0);
      expect(new Set(receiver.records.map((r) => r.orderId))).toEqual(new Set(supplierOrderIds));
      expect(report.lastStatusByOrder).toEqual(Object.fromEntries(supplierOrderIds.map((id) => [id, 'success'])));
    } finally {
      await api.close();
    }
  });

  it('re-sends after network errors and timeouts with growing gaps, then gives up', async () => {
    const plan = planPushes({ appSecret: SECRET, count: 6, cancelRate: 0, seed: 11, msgIdBase: 100 });
    const msgIds = plan.deliveries.map((d) => String(d.msgId));
    const [alwaysDown, dropped, held] = msgIds;
    const receiver = await startReceiver({
      decide: (msgId, previous) => {
        if (msgId === alwaysDown) return 500;
        if (msgId === dropped && previous === 0) return 'destroy';
        if (msgId === held && previous === 0) return 'hold';
        return 200;
      },
    });
    const report = await runSimulator({
      target: receiver.baseUrl,
      appSecret: SECRET,
      count: 6,
      cancelRate: 0,
      seed: 11,
      msgIdBase: 100,
      rate: 0,
      retries: 3,
      retryBaseMs: 40,
      timeoutMs: 300,
    });

    const attempts = receiver.records.filter((r) => r.msgId === alwaysDown);
    expect(attempts.length).toBe(4);
    const gaps = attempts.slice(1).map((r, i) => r.at - attempts[i].at);
    gaps.forEach((gap, k) => expect(gap).toBeGreaterThanOrEqual(40 * 2 ** k - 2));
    expect(gaps[2]).toBeGreaterThan(gaps[0]);

    expect(report.failed).toBe(1);
    expect(report.failures).toEqual([
      expect.objectContaining({ msgId: Number(alwaysDown), attempts: 4, lastError: expect.stringContaining('HTTP 500') }),
    ]);
    expect(report.acknowledged).toBe(report.sent - 1);
    expect(report.retried).toBe(3 + 1 + 1);
    expect(report.responses).toMatchObject({ '500': 4, ETIMEDOUT: 1 });
    expect(Object.keys(report.responses).some((k) => k === 'ECONNRESET' || k === 'EPIPE')).toBe(true);
    // The order whose first message never got through ends where its acknowledged messages say.
    expect(report.lastStatusByOrder).toEqual(newestByOrder(acknowledgedUnique(receiver.records)));
  });

  it('paces open loop at the rate, keeps concurrency bounded on keep-alive sockets, and stops on abort', async () => {
    const paced = await startReceiver();
    const started = performance.now();
    const report = await runSimulator({ target: paced.baseUrl, appSecret: SECRET, count: 6, cancelRate: 0, rate: 100, seed: 1 });
    expect(report.sent).toBe(30);
    expect(performance.now() - started).toBeGreaterThanOrEqual(285); // 30 deliveries at 100/s: the last one at 290 ms
    expect(paced.records.at(-1)!.at - paced.records[0].at).toBeGreaterThanOrEqual(280);

    const slow = await startReceiver({ latencyMs: 15 });
    const bounded = await runSimulator({
      target: slow.baseUrl,
      appSecret: SECRET,
      count: 10,
      cancelRate: 0,
      rate: 0,
      concurrency: 3,
      seed: 2,
    });
    expect(bounded.failed).toBe(0);
    expect(slow.maxInFlight).toBeLessThanOrEqual(3);
    expect(slow.maxInFlight).toBeGreaterThanOrEqual(2);
    expect(slow.seenSockets).toBeLessThanOrEqual(3);
    await eventually(() => (slow.sockets.size === 0 ? true : undefined), 10_000, 'the agent to close its sockets');

    const controller = new AbortController();
    const stopping = await startReceiver({ decide: (_msgId, _previous, r) => (r.arrival === 9 ? (controller.abort(), 503) : 200) });
    const aborted = await runSimulator({
      target: stopping.baseUrl,
      appSecret: SECRET,
      count: 20,
      rate: 200,
      concurrency: 2,
      seed: 3,
      signal: controller.signal,
    });
    expect(aborted.aborted).toBe(true);
    expect(aborted.notSent).toBeGreaterThan(0);
    expect(aborted.acknowledged + aborted.failed).toBe(aborted.sent);
    expect(aborted.sent + aborted.notSent).toBe(aborted.messages + planPushes({ appSecret: SECRET, count: 20, seed: 3 }).duplicates);
  });

  it('drops pushes (at a rate, or chosen ones) and hands every unacknowledged message to a fake 1688 Open API', async () => {
    const common = { appSecret: SECRET, count: 10, cancelRate: 0.3, duplicateRate: 0.3, seed: 21, msgIdBase: 3_000_000 };
    const plan = planPushes({ ...common, dropRate: 0.25, dropMsgIds: ['3000002'] });
    const dropped = new Set(plan.deliveries.filter((d) => d.dropped).map((d) => String(d.msgId)));
    expect(dropped.has('3000002')).toBe(true);
    expect(dropped.size).toBe(plan.dropped);
    expect(dropped.size).toBeGreaterThan(1);
    // Every copy of a dropped message is dropped; without drops the plan is the same as before.
    for (const d of plan.deliveries) expect(d.dropped).toBe(dropped.has(String(d.msgId)));
    expect(plan.deliveries.map((d) => d.message)).toEqual(planPushes(common).deliveries.map((d) => d.message));
    expect(planPushes(common).deliveries.every((d) => !d.dropped)).toBe(true);

    // One message the receiver always refuses: given up after 3 re-sends, as 1688 does.
    const refused = plan.deliveries.find((d) => !d.dropped && !d.duplicate)!;
    const receiver = await startReceiver({ decide: (msgId) => (msgId === String(refused.msgId) ? 500 : 200) });
    const openApi = await startFake1688OpenApi({ appSecret: SECRET });
    try {
      const report = await runSimulator({
        ...common,
        target: receiver.baseUrl,
        openApi: openApi.baseUrl,
        dropRate: 0.25,
        dropMsgIds: ['3000002'],
        rate: 0,
        retries: 3,
        retryBaseMs: 5,
      });
      expect(receiver.rejected).toEqual([]);
      expect(receiver.records.filter((r) => dropped.has(r.msgId))).toEqual([]);
      expect(receiver.records.filter((r) => r.msgId === String(refused.msgId)).length).toBe(
        4 * plan.deliveries.filter((d) => d.msgId === refused.msgId).length,
      );
      expect(report.dropped).toBe(plan.deliveries.filter((d) => d.dropped).length);
      expect(report.sent + report.dropped + report.notSent).toBe(plan.deliveries.length);
      expect(report).toMatchObject({
        droppedMessages: dropped.size,
        unacknowledgedMessages: dropped.size + 1,
        handedToStore: dropped.size + 1,
        storeErrors: [],
        ordersRegistered: 10,
      });
      expect(report.handedToStoreByReason).toEqual({ dropped: dropped.size, failed: 1, notSent: 0 });
      // The dropped and the given-up message are held by 1688, unconfirmed, exactly as pushed.
      const held = openApi.messages({ pendingOnly: true });
      expect(new Set(held.map((m) => m.msgId))).toEqual(new Set([...dropped, String(refused.msgId)]));
      expect(held.find((m) => m.msgId === String(refused.msgId))!.text).toBe(refused.message);
      // The acknowledged statuses trail 1688's own where the last message of an order was lost.
      expect(Object.fromEntries(openApi.orders().map((o) => [o.id, o.status]))).toEqual(plan.lastStatusByOrder);
      expect(report.finalStatusAt1688).toEqual(plan.lastStatusByOrder);
    } finally {
      await openApi.close();
    }
  });

  it('has a CLI: flags, a JSON report on stdout, exit codes', async () => {
    expect(() => parseCliArgs(['--count', '5'], {})).toThrow(/secret/);
    expect(() => parseCliArgs(['--secret', 's'], {})).toThrow(/--count/);
    expect(() => parseCliArgs(['--secret', 's', '--count', '5', '--bogus', '1'], {})).toThrow(/unknown flag --bogus/);
    expect(() => parseCliArgs(['--secret', 's', '--count', '5', '--duplicate-rate', '2'], {})).toThrow(/duplicateRate/);
    expect(() => parseCliArgs(['--secret', 's', '--ids', '12,012'], {})).toThrow(/ids\[1\]/);
    const parsed = parseCliArgs(
      ['--secret=s', '--ids', '167539019420540001, 167539019420540002', '--rate', '500', '--reorder-rate', '0.1', '--json'],
      {},
    );
    expect(parsed).toMatchObject({
      json: true,
      options: {
        appSecret: 's',
        ids: ['167539019420540001', '167539019420540002'],
        rate: 500,
        reorderRate: 0.1,
        target: 'http://127.0.0.1:3000',
      },
    });
    expect(parseCliArgs(['--count', '1'], { ALIBABA_APP_SECRET: 'from-env' }).options.appSecret).toBe('from-env');
    expect(
      parseCliArgs(
        [
          '--secret',
          's',
          '--count',
          '3',
          '--open-api',
          'http://127.0.0.1:4100',
          '--drop-rate',
          '0.1',
          '--drop-msg-ids',
          '5,6',
          '--silent-change-rate',
          '0.2',
        ],
        {},
      ).options,
    ).toMatchObject({ openApi: 'http://127.0.0.1:4100', dropRate: 0.1, dropMsgIds: ['5', '6'], silentChangeRate: 0.2 });
    expect(() => parseCliArgs(['--secret', 's', '--count', '3', '--open-api', 'ftp://x'], {})).toThrow(/openApi/);
    expect(() => parseCliArgs(['--secret', 's', '--count', '3', '--drop-rate', '1.5'], {})).toThrow(/dropRate/);

    const receiver = await startReceiver();
    const cli = (args: string[]) => {
      const child = spawn(process.execPath, [SIMULATOR, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c) => (stdout += c));
      child.stderr.on('data', (c) => (stderr += c));
      let code: number | null | undefined;
      child.once('close', (c) => (code = c));
      return eventually(() => (code === undefined ? undefined : { code, stdout, stderr }), 20_000, 'the CLI to exit').finally(() => {
        if (child.exitCode === null) child.kill('SIGKILL');
      });
    };
    const ok = await cli([
      '--target',
      receiver.baseUrl,
      '--secret',
      SECRET,
      '--count',
      '15',
      '--rate',
      '0',
      '--duplicate-rate',
      '0.2',
      '--reorder-rate',
      '0.2',
      '--seed',
      '5',
      '--json',
    ]);
    expect(ok.code).toBe(0);
    const report = JSON.parse(ok.stdout) as SimulatorReport;
    expect(report).toMatchObject({ orders: 15, failed: 0, seed: 5 });
    expect(report.acknowledged).toBe(receiver.records.length);
    expect(report.lastStatusByOrder).toEqual(newestByOrder(acknowledgedUnique(receiver.records)));

    const bad = await cli(['--secret', SECRET, '--count', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/count must be a number/);
  });
});
