import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  parseCliArgs,
  spawnFakeSupplierApi,
  startFakeSupplierApi,
  type FakeSupplierApi,
  type FakeSupplierConfigChanges,
  type FakeSupplierStats,
} from '../tools/fake-supplier-api.mjs';
import { eventually } from './support/service.js';

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

async function post(url: string, key: string | null, body: unknown, init: { signal?: AbortSignal } = {}): Promise<Reply> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== null) headers['idempotency-key'] = key;
  const response = await fetch(url, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: init.signal,
  });
  const text = await response.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

const order = (url: string, orderId: string, payload: unknown = { sku: 'A-1', qty: 2 }) => post(url, orderId, { orderId, payload });

const NO_FAULTS: FakeSupplierConfigChanges = {
  latencyMs: 0,
  latencyJitterMs: 0,
  rateLimit: 0,
  error5xx: 0,
  error429: 0,
  timeout: 0,
  final4xx: 0,
  garbage: 0,
  closeConnection: 0,
};

describe('fake supplier API (in process)', () => {
  let api: FakeSupplierApi;
  beforeAll(async () => {
    api = await startFakeSupplierApi({ seed: 1 });
  });
  afterAll(async () => {
    await api?.close();
  });
  beforeEach(() => {
    api.configure(NO_FAULTS);
    api.reset();
  });

  it('creates a supplier order once per key and replays the stored answer', async () => {
    const first = await post(api.url, 'o-1', { orderId: 'o-1', payload: { sku: 'A-1', qty: 2 } });
    expect(first.status).toBe(201);
    expect(first.json).toEqual({ supplierOrderId: expect.stringMatching(/^\d{18}$/), orderId: 'o-1', status: 'accepted' });
    // POST / works too; key order inside the body does not matter.
    const again = await post(`${api.baseUrl}/`, 'o-1', { payload: { qty: 2, sku: 'A-1' }, orderId: 'o-1' });
    expect(again.status).toBe(201);
    expect(again.text).toBe(first.text);
    expect(again.headers.get('idempotent-replayed')).toBe('true');

    expect(api.stats()).toMatchObject({ calls: 2, sideEffects: 1, replays: 1, duplicateSideEffects: 0, inFlight: 0, keys: 1 });
    expect(api.keyStats('o-1')).toMatchObject({
      seen: true,
      calls: 2,
      sideEffects: 1,
      maxConcurrent: 1,
      inFlight: false,
      answer: { status: 201, body: first.json },
    });
  });

  it('answers 400 to requests without a key, JSON, or order id, and 405 to other methods', async () => {
    expect((await post(api.url, null, { orderId: 'x' })).json).toEqual({ error: 'missing Idempotency-Key header' });
    const replies = await Promise.all([
      post(api.url, null, { orderId: 'x' }),
      post(api.url, 'x', '{"orderId":'),
      post(api.url, 'x', { payload: {} }),
      post(api.url, 'x', { orderId: 'x', payload: [1] }),
      post(api.url, 'x', '[]'),
    ]);
    expect(replies.map((r) => r.status)).toEqual([400, 400, 400, 400, 400]);
    expect((await fetch(api.url)).status).toBe(405);
    expect(api.stats()).toMatchObject({ calls: 6, sideEffects: 0, badRequests: 6 });
  });

  it('answers 409 while the first call with a key is in flight, and 422 to the same key with another body', async () => {
    api.configure({ latencyMs: 1_500 });
    const first = order(api.url, 'o-2');
    await eventually(() => (api.keyStats('o-2').inFlight ? true : undefined), 10_000, 'first call in flight');
    const second = await order(api.url, 'o-2');
    expect(second.status).toBe(409);
    expect(second.json).toEqual({ error: 'request with this key in flight' });
    expect((await first).status).toBe(201);

    api.configure({ latencyMs: 0 });
    const other = await order(api.url, 'o-2', { sku: 'B-2', qty: 1 });
    expect(other.status).toBe(422);
    expect(api.keyStats('o-2')).toMatchObject({ calls: 3, sideEffects: 1, maxConcurrent: 2 });
    expect(api.stats()).toMatchObject({ sideEffects: 1, conflicts: 1, mismatches: 1, maxInFlight: 2, inFlight: 0 });
  });

  it('plays scripted answers one per call, then goes back to normal', async () => {
    expect(api.script('s-1', ['503', '429:2', '201'])).toEqual({ orderId: 's-1', answers: ['503', '429:2', '201'] });
    expect((await order(api.url, 's-1')).status).toBe(503);
    const limited = await order(api.url, 's-1');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    expect(api.keyStats('s-1').sideEffects).toBe(0);
    const created = await order(api.url, 's-1');
    expect(created.status).toBe(201);
    expect((await order(api.url, 's-1')).text).toBe(created.text);
    expect(api.keyStats('s-1')).toMatchObject({ calls: 4, sideEffects: 1, scripted: [] });

    // A lost answer: the side effect happened, the retry gets the stored answer.
    api.script('s-close', ['close']);
    await expect(order(api.url, 's-close')).rejects.toThrow();
    expect(api.keyStats('s-close').sideEffects).toBe(1);
    const replay = await order(api.url, 's-close');
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');

    api.script('s-before', ['close-before']);
    await expect(order(api.url, 's-before')).rejects.toThrow();
    expect(api.keyStats('s-before').sideEffects).toBe(0);
    expect((await order(api.url, 's-before')).status).toBe(201);

    api.script('s-garbage', ['garbage']);
    const garbled = await order(api.url, 's-garbage');
    expect(garbled.status).toBe(200);
    expect(garbled.json).toBeUndefined();
    const clean = await order(api.url, 's-garbage');
    expect(clean.status).toBe(201);
    expect(clean.json.supplierOrderId).toMatch(/^\d{18}$/);

    api.script('s-final', ['422']);
    expect((await order(api.url, 's-final')).status).toBe(422);
    const stored = await order(api.url, 's-final');
    expect(stored.status).toBe(422);
    expect(stored.headers.get('idempotent-replayed')).toBe('true');

    expect(() => api.script('s-bad', ['201', 'teapot' as never])).toThrow(/unknown answer/);
    expect(api.stats()).toMatchObject({
      sideEffects: 4,
      duplicateSideEffects: 0,
      answers: { '503': 1, '429': 1, close: 2, garbage: 1, '422': 2 },
    });
  });

  it('enforces the rate limit with a token bucket: a burst of twice the limit gets 429s with Retry-After', async () => {
    api.configure({ rateLimit: 20 });
    const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => order(api.url, `r-${i}`)));
    const accepted = replies.filter((r) => r.status === 201).length;
    const limited = replies.filter((r) => r.status === 429);
    expect(accepted + limited.length).toBe(40);
    expect(accepted).toBeGreaterThanOrEqual(20);
    expect(accepted).toBeLessThan(30);
    for (const r of limited) expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number.isInteger(Number(limited[0].headers.get('retry-after')))).toBe(true);
    const stats = api.stats();
    expect(stats.rejectedForRate).toBe(limited.length);
    expect(stats.sideEffects).toBe(accepted);
    expect(stats.calls).toBe(40);
    expect(stats.maxCallsPerSecond).toBeGreaterThan(20);
  });

  it('holds a "timeout" call open until the client gives up, with no side effect', async () => {
    api.script('t-1', ['timeout']);
    const started = Date.now();
    const outcome = post(api.url, 't-1', { orderId: 't-1' }, { signal: AbortSignal.timeout(200) }).then(
      () => undefined,
      (error: Error) => error,
    );
    await eventually(() => (api.stats().held === 1 ? true : undefined), 10_000, 'held request');
    expect(api.stats().inFlight).toBe(1);
    expect((await outcome)?.name).toBe('TimeoutError');
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    await eventually(() => (api.stats().held === 0 && api.stats().inFlight === 0 ? true : undefined), 10_000, 'aborted request closed');
    expect(api.keyStats('t-1')).toMatchObject({ calls: 1, sideEffects: 0, inFlight: false, answer: null });
    expect(api.stats().answers).toEqual({ timeout: 1 });
    // The retry (script used up) goes through.
    expect((await post(api.url, 't-1', { orderId: 't-1' })).status).toBe(201);
  });

  it('reports counters over HTTP, per key on request, and reset clears them', async () => {
    api.configure({ latencyMs: 300 });
    await Promise.all([order(api.url, 'c-1'), order(api.url, 'c-1'), order(api.url, 'c-2')]);
    const stats = (await (await fetch(`${api.baseUrl}/_stats?keys=1`)).json()) as FakeSupplierStats;
    expect(stats).toMatchObject({ calls: 3, sideEffects: 2, inFlight: 0, maxInFlight: 3, conflicts: 1, duplicateSideEffects: 0 });
    expect(stats.perKey).toEqual({
      'c-1': { calls: 2, sideEffects: 1, concurrent: 0, maxConcurrent: 2 },
      'c-2': { calls: 1, sideEffects: 1, concurrent: 0, maxConcurrent: 1 },
    });
    expect(((await (await fetch(`${api.baseUrl}/_stats`)).json()) as FakeSupplierStats).perKey).toBeUndefined();
    expect(await (await fetch(`${api.baseUrl}/_stats/keys/c-1`)).json()).toMatchObject({
      key: 'c-1',
      calls: 2,
      sideEffects: 1,
      maxConcurrent: 2,
    });
    const before = api.keyStats('c-1').answer!.body.supplierOrderId as string;

    expect((await fetch(`${api.baseUrl}/_reset`, { method: 'POST' })).status).toBe(200);
    expect(api.stats()).toMatchObject({ calls: 0, sideEffects: 0, maxInFlight: 0, maxCallsPerSecond: 0, keys: 0, answers: {} });
    expect(api.keyStats('c-1').seen).toBe(false);
    api.configure({ latencyMs: 0 });
    const after = await order(api.url, 'c-1');
    expect(after.status).toBe(201);
    // Supplier order ids never repeat within a process, resets included.
    expect(BigInt(after.json.supplierOrderId)).toBeGreaterThan(BigInt(before));
  });

  it('counts an order sent under two keys as a duplicate side effect', async () => {
    await post(api.url, 'key-a', { orderId: 'dup-1', payload: {} });
    await post(api.url, 'key-b', { orderId: 'dup-1', payload: {} });
    expect(api.stats()).toMatchObject({ sideEffects: 2, duplicateSideEffects: 1 });
  });

  it('configures through POST /_config and replays the same faults from the same seed', async () => {
    const other = await startFakeSupplierApi({ seed: 42 });
    try {
      const mix = { seed: 42, error5xx: 0.2, error429: 0.2, final4xx: 0.1, garbage: 0.1 };
      const answer = await fetch(`${other.baseUrl}/_config`, { method: 'POST', body: JSON.stringify(mix) });
      expect(answer.status).toBe(200);
      expect(await answer.json()).toMatchObject(mix);
      api.configure(mix);
      const run = async (target: FakeSupplierApi) => {
        const statuses: number[] = [];
        for (let i = 0; i < 40; i++) statuses.push((await order(target.url, `seeded-${i}`)).status);
        return statuses;
      };
      const a = await run(api);
      const b = await run(other);
      expect(a).toEqual(b);
      expect(new Set(a)).toEqual(new Set([201, 503, 429, 422, 200]));

      const bad = await fetch(`${other.baseUrl}/_config`, { method: 'POST', body: JSON.stringify({ error5xx: 0.8, timeout: 0.5 }) });
      expect(bad.status).toBe(400);
      expect(() => api.configure({ latencyMs: -1 })).toThrow(/latencyMs/);
      expect(() => api.configure({ port: 1234 } as never)).toThrow(/port/);
    } finally {
      await other.close();
    }
  });

  it('parses CLI flags over FAKE_SUPPLIER_* variables', () => {
    const { options, exitOnStdinEnd } = parseCliArgs(['--port', '0', '--latency-ms=5', '--rate-limit', '10', '--exit-on-stdin-end'], {
      FAKE_SUPPLIER_SEED: '9',
      FAKE_SUPPLIER_RATE_LIMIT: '99',
    });
    expect(options).toMatchObject({ port: 0, latencyMs: 5, rateLimit: 10, seed: 9, host: '127.0.0.1' });
    expect(exitOnStdinEnd).toBe(true);
    expect(parseCliArgs([], {}).options.port).toBe(4000);
    expect(() => parseCliArgs(['--nope', '1'], {})).toThrow(/unknown flag/);
    expect(() => parseCliArgs(['--error-5xx', '2'], {})).toThrow(/probability/);
  });
});

describe('fake supplier API (child process)', () => {
  it('serves over HTTP, is driven by its helpers, and exits 0 on SIGTERM with one summary line', async () => {
    const api = await spawnFakeSupplierApi({ seed: 7, latencyMs: 5, latencyJitterMs: 2 });
    try {
      expect(api.port).toBeGreaterThan(0);
      expect(api.url).toBe(`http://127.0.0.1:${api.port}/orders`);

      expect(await api.script('p-1', ['503', '201'])).toEqual({ orderId: 'p-1', answers: ['503', '201'] });
      expect((await order(api.url, 'p-1')).status).toBe(503);
      const created = await order(api.url, 'p-1');
      expect(created.status).toBe(201);
      expect((await order(api.url, 'p-1')).text).toBe(created.text);
      expect(await api.keyStats('p-1')).toMatchObject({ calls: 3, sideEffects: 1, answer: { status: 201 } });

      expect(await api.configure({ rateLimit: 5 })).toMatchObject({ rateLimit: 5, seed: 7 });
      const burst = await Promise.all(Array.from({ length: 10 }, (_, i) => order(api.url, `p-burst-${i}`)));
      expect(burst.filter((r) => r.status === 429).length).toBeGreaterThan(0);
      const stats = await api.stats({ keys: true });
      expect(stats.rejectedForRate).toBeGreaterThan(0);
      expect(stats).toMatchObject({ calls: 13, duplicateSideEffects: 0 });
      expect(stats.perKey?.['p-1']).toMatchObject({ calls: 3, sideEffects: 1 });

      await api.reset();
      expect(await api.stats()).toMatchObject({ calls: 0, sideEffects: 0 });

      // A held "timeout" call does not keep it from stopping.
      await api.configure({ rateLimit: 0 });
      await api.script('p-held', ['timeout']);
      const held = order(api.url, 'p-held').then(
        () => 'answered',
        () => 'cut',
      );
      await eventually(async () => ((await api.stats()).held === 1 ? true : undefined), 10_000, 'held request');

      const exit = await api.stop();
      expect(exit).toMatchObject({ code: 0, signal: null });
      const lines = exit.output.trim().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toBe(`fake-supplier-api listening on ${api.port}`);
      expect(lines[1]).toMatch(/^fake-supplier-api stopped \(SIGTERM\): calls=1 sideEffects=0 .*seed=7$/);
      expect(await held).toBe('cut');
      expect(() => process.kill(api.pid!, 0)).toThrow();
    } finally {
      await api.kill();
    }
  });

  it('fails to start with the reason when the port is taken', async () => {
    const holder = await startFakeSupplierApi();
    try {
      await expect(spawnFakeSupplierApi({ port: holder.port })).rejects.toThrow(/exited \(1\) before listening: .*EADDRINUSE/);
    } finally {
      await holder.close();
    }
  });
});
