import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLosslessNumber, parseLosslessJson } from '../src/common/lossless-json.js';
import { strictPercentEncode } from '../src/common/percent-encoding.js';
import { startFakeSupplierApi, type FakeSupplierApi } from '../tools/fake-supplier-api.mjs';
import { api } from './support/http.js';
import { API_KEY, eventually, startTestService, type TestService } from './support/service.js';

/**
 * Property-based: any id and payload the API accepts round-trips through create, get, list,
 * dispatch and history, and each order is sent once, under its own Idempotency-Key.
 */
let t: TestService;
let supplier: FakeSupplierApi;

beforeAll(async () => {
  supplier = await startFakeSupplierApi({ latencyMs: 1 });
  t = await startTestService('properties', {
    EXTERNAL_API_URL: supplier.url,
    EXTERNAL_API_RATE_LIMIT: '500',
    EXTERNAL_API_TIMEOUT_MS: '2000',
    DISPATCH_LOCK_MS: '5000',
  });
});
afterAll(async () => {
  await t?.stop();
  await supplier?.close();
});

/** Ids the API accepts: 1 to 128 characters of any script, no control characters, integer-looking ones included. */
const orderId = fc
  .oneof(
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 128 }),
    fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
    fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')),
    fc.constantFrom('%', '%20x%20', ' x ', 'a:b', '1e3', '-0', '..', '/'),
  )
  .filter((id) => id.length > 0 && [...id].length <= 128 && !/[\p{Cc}\p{Cs}]/u.test(id));

/** A payload as JSON text, with numbers a double cannot hold. */
const payloadText = fc
  .record({
    big: fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }),
    decimal: fc
      .tuple(fc.integer({ min: 0, max: 999_999 }), fc.integer({ min: 0, max: 9999 }))
      .map(([a, b]) => `${a}.${String(b).padStart(4, '0')}`),
    text: fc.string({ unit: 'grapheme', maxLength: 20 }).filter((s) => !/\p{Cs}/u.test(s) && !s.includes('\u0000')),
    flag: fc.boolean(),
    list: fc.array(fc.integer(), { maxLength: 4 }),
  })
  .map(
    ({ big, decimal, text, flag, list }) =>
      `{"big":${big},"decimal":${decimal},"text":${JSON.stringify(text)},"flag":${flag},"list":[${list.join(',')}]}`,
  );

/** Numbers by value, as text: how two JSON documents are compared digit for digit. */
function canonical(value: unknown): unknown {
  if (isLosslessNumber(value)) return `n:${/^-?\d+$/.test(value.value) ? BigInt(value.value).toString() : value.value}`;
  if (typeof value === 'number') return `n:${value}`;
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, canonical(v)]));
  return value;
}

async function getText(path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${t.baseUrl}${path}`, { headers: { authorization: `Bearer ${API_KEY}` } });
  return { status: response.status, text: await response.text() };
}

describe('properties', () => {
  it('any accepted id and payload round-trips, and is sent once under its own key', { timeout: 120_000 }, async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(orderId, payloadText, async (id, payload) => {
        fc.pre(!seen.has(id));
        seen.add(id);
        const body = `{"id":${JSON.stringify(id)},"payload":${payload}}`;
        const created = await fetch(`${t.baseUrl}/orders`, {
          method: 'POST',
          headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
          body,
        });
        expect(created.status).toBe(201);
        const path = `/orders/${encodeURIComponent(id)}`;
        const read = await getText(path);
        expect(read.status).toBe(200);
        const order = parseLosslessJson(read.text) as { id: string; payload: unknown };
        expect(order.id).toBe(id);
        expect(canonical(order.payload)).toEqual(canonical(parseLosslessJson(payload)));
        const done = await eventually(
          async () => {
            const current = parseLosslessJson((await getText(path)).text) as { status: string };
            return current.status === 'COMPLETED' ? current : undefined;
          },
          15_000,
          `order ${JSON.stringify(id)} COMPLETED`,
        );
        expect(done.status).toBe('COMPLETED');
        expect(supplier.keyStats(strictPercentEncode(id))).toMatchObject({ calls: 1, sideEffects: 1 });
        const history = await api(t.baseUrl, 'GET', `${path}/events`);
        expect(history.body.items.map((e: { toStatus: string | null }) => e.toStatus)).toEqual(['PENDING', 'PROCESSING', 'COMPLETED']);
      }),
      { numRuns: 60, seed: Number(process.env.PROPERTY_SEED ?? 20261203) },
    );
    // Listing pages over every one of them, each once.
    const listed: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: { id: string }[]; nextCursor: string | null } } = await api(
        t.baseUrl,
        'GET',
        `/orders?limit=17${cursor ? `&cursor=${cursor}` : ''}`,
      );
      listed.push(...page.body.items.map((o) => o.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(listed.sort()).toEqual([...seen].sort());
    expect(supplier.stats()).toMatchObject({ sideEffects: seen.size, duplicateSideEffects: 0 });
  });
});
