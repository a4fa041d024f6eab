// @ts-check
// Scenario 7: the supplier's order API down for 10 minutes (--short: 50 s) while orders are
// created, with the service's default retry schedule (DISPATCH_MAX_ATTEMPTS unset: 14 attempts,
// exponential backoff from 1 s capped at 5 min, jitter in the upper half: at least 14 minutes).
// The first half of the outage the supplier answers 503 to every call; the second half it is not
// there at all (a TCP gate in front of the fake supplier stops listening: connections refused,
// while the fake keeps counting side effects per Idempotency-Key). Afterwards every order must
// be COMPLETED, none FAILED, nothing dead-lettered, each order sent once. Dispatch locks and
// leases are the suite's short ones (5 s), so lease recovery runs again and again meanwhile.
import {
  SUPPLIER_OPTIONS,
  createOrders,
  dispatchEnv,
  fmt,
  makePushes,
  metricSum,
  metricsText,
  orderIds,
  PushSender,
  seconds,
  startFleet,
  tallyText,
  verifyCommon,
  waitApplied,
  waitSettled,
} from './lib.mjs';

/** No injected faults besides the outage: one after it would add up to 5 min (the backoff cap) to the run. */
const SUPPLIER = { ...SUPPLIER_OPTIONS, error5xx: 0, closeConnection: 0 };

const SETTINGS = {
  short: {
    beforeMs: 8_000,
    error503Ms: 25_000,
    refusedMs: 25_000,
    afterMs: 5_000,
    orders: 300,
    pushRate: 40,
    pushSeconds: 30,
    settleMs: 180_000,
  },
  full: {
    beforeMs: 30_000,
    error503Ms: 300_000,
    refusedMs: 300_000,
    afterMs: 30_000,
    orders: 1_200,
    pushRate: 40,
    pushSeconds: 90,
    settleMs: 480_000,
  },
};

/** @type {import('./lib.mjs').Scenario} */
export default {
  id: 'supplier-outage',
  title: 'the supplier API down for 10 minutes (--short: 50 s), default retry schedule',
  deadlineMs: (short) => (short ? 360_000 : 1_380_000),
  estimateMs: (short) => (short ? 170_000 : 1_000_000),
  async run(ctx) {
    const s = ctx.short ? SETTINGS.short : SETTINGS.full;
    ctx.watchLog('dispatch attempts failed (will retry)', /^(?=.*"msg":"job failed; will retry")(?=.*"context":"OrderDispatchProcessor")/);
    ctx.watchLog('jobs dead-lettered', /"msg":"job failed for good; dead-lettered"/);
    ctx.watchLog('expired leases recovered (reported or re-queued)', /"msg":"expired dispatch leases recovered"/);
    const supplier = await ctx.startFakeSupplier(SUPPLIER);
    const gate = await ctx.startSupplierGate(supplier);
    // The defaults for attempts and backoff: DISPATCH_MAX_ATTEMPTS and DISPATCH_RETRY_AFTER_MAX_MS unset.
    const env = dispatchEnv(gate);
    delete env.DISPATCH_MAX_ATTEMPTS;
    const { api, workers } = await startFleet(ctx, env, { workers: 2, workerHttp: true });
    ctx.did(
      `the service sends orders through a TCP gate (port ${gate.port}) to the fake supplier API (port ${supplier.port}); DISPATCH_MAX_ATTEMPTS and the backoff are the defaults; DISPATCH_LOCK_MS, DISPATCH_LEASE_MS 5 s, DISPATCH_RECOVERY_INTERVAL_MS 1 s`,
    );
    const baseUrl = () => api.baseUrl;

    const creatingOverMs = s.beforeMs + s.error503Ms + s.refusedMs + s.afterMs;
    const ids = orderIds('SO', s.orders);
    const pushes = makePushes({ messages: s.pushRate * s.pushSeconds, seed: 77, idBase: (await supplier.config()).idBase });
    const sender = new PushSender({ baseUrl, concurrency: 16 });
    ctx.did(
      `creating ${fmt(s.orders)} orders in batches of 50 over ${seconds(creatingOverMs)}, and streaming ${fmt(pushes.deliveries.length)} 1688 pushes for the supplier orders it hands out at ${s.pushRate}/s`,
    );
    const t0 = performance.now();
    const sending = sender.run(pushes.deliveries, { ratePerSec: s.pushRate, signal: ctx.signal });
    const creating = createOrders(ctx, { baseUrl, ids, batchSize: 50, spreadOverMs: creatingOverMs });

    await ctx.sleep(Math.max(0, t0 + s.beforeMs - performance.now()));
    const before = await supplier.stats();
    const downAt = performance.now();
    await supplier.configure({ error5xx: 1, closeConnection: 0 });
    ctx.log(`supplier answers 503 to every call (${fmt(before.sideEffects)} orders sent so far)`);
    await ctx.sleep(s.error503Ms);
    const mid = await supplier.stats();
    await gate.closeGate();
    ctx.log(
      `supplier not there: connections refused (${fmt((mid.answers['503'] ?? 0) - (before.answers['503'] ?? 0))} calls answered 503 meanwhile)`,
    );
    await ctx.sleep(s.refusedMs);
    await supplier.configure({ error5xx: SUPPLIER.error5xx, closeConnection: SUPPLIER.closeConnection });
    await gate.openGate();
    const upAt = performance.now();
    const after = await supplier.stats();
    const { rows: pendingRows } = await ctx
      .db()
      .query(`SELECT status, count(*)::int AS n FROM orders WHERE id = ANY($1::text[]) GROUP BY status ORDER BY status`, [ids]);
    const atEnd = pendingRows.map((r) => `${r.status} ${r.n}`).join(', ');
    ctx.did(
      `the supplier was down ${seconds(upAt - downAt)}: ${seconds(s.error503Ms)} answering 503 (${fmt((mid.answers['503'] ?? 0) - (before.answers['503'] ?? 0))} calls), then ${seconds(s.refusedMs)} refusing connections; no side effect meanwhile (${fmt(after.sideEffects - mid.sideEffects)} during the refusal); orders at its end: ${atEnd}`,
    );

    await sending;
    const created = await creating;
    ctx.did(
      `${fmt(created.created)} orders created (${created.retries} batch re-sends); sender: ${fmt(sender.acked.size)}/${fmt(sender.sentIds.size)} pushes acknowledged`,
    );
    const settleMs = await waitSettled(ctx, baseUrl, ids, s.settleMs);
    const settledAt = performance.now();
    ctx.did(
      settleMs === null ? 'orders did NOT settle in time' : `every order settled ${seconds(settledAt - upAt)} after the supplier came back`,
    );
    const applyMs = await waitApplied(ctx, sender.acked, 60_000, baseUrl);
    ctx.did(applyMs === null ? 'NOT every acknowledged message got applied in time' : 'every acknowledged push applied');

    const { rows: attemptRows } = await ctx
      .db()
      .query(
        `SELECT max(attempts)::int AS max, round(avg(attempts), 1)::float AS avg, count(*) FILTER (WHERE attempts > 1)::int AS retried FROM orders WHERE id = ANY($1::text[])`,
        [ids],
      );
    const stats = await supplier.stats({ keys: true });
    const perKey = Object.values(stats.perKey ?? {});
    const maxCalls = Math.max(0, ...perKey.map((k) => k.calls));
    const metrics = await Promise.all(workers.map((w) => metricsText(w.workerUrl)));
    const sumOf = (/** @type {string} */ name, /** @type {Record<string, string>} */ labels) =>
      metrics.reduce((sum, text) => sum + (text ? metricSum(text, name, labels) : 0), 0);
    const callOutcomes = Object.fromEntries(
      ['success', 'retry', 'final', 'rate_limited'].map((o) => [o, sumOf('ordersync_dispatch_calls_total', { outcome: o })]),
    );
    const recoveries = Object.fromEntries(
      ['extended', 'reported', 'requeued'].map((a) => [a, sumOf('ordersync_dispatch_lease_recoveries_total', { action: a })]),
    );
    const attempts = attemptRows[0] ?? { max: null, avg: null, retried: 0 };

    ctx.figure('supplier outage', `${seconds(upAt - downAt)} (${seconds(s.error503Ms)} 503, ${seconds(s.refusedMs)} refused)`);
    ctx.figure('orders when the supplier came back', atEnd);
    ctx.figure('every order settled after the supplier came back', settleMs === null ? 'never' : seconds(settledAt - upAt));
    ctx.figure('attempts per order: max / mean (orders retried)', `${attempts.max} / ${attempts.avg} (${fmt(attempts.retried)})`);
    ctx.figure('calls for one order at most (fake supplier)', maxCalls);
    ctx.figure('fake supplier answers', tallyText(stats.answers));
    ctx.figure('dispatch calls by outcome (service metrics)', tallyText(callOutcomes));
    ctx.figure('lease recoveries (service metrics)', tallyText(recoveries));
    ctx.check(
      'the outage reached the service: calls answered 503, then refused',
      (mid.answers['503'] ?? 0) > (before.answers['503'] ?? 0) && (callOutcomes.retry ?? 0) > 0,
      tallyText(callOutcomes),
    );
    ctx.check(
      'no order used up its attempts (the default schedule outlasts the outage)',
      typeof attempts.max === 'number' && attempts.max <= 14,
      `most attempts of one order: ${attempts.max} (DISPATCH_MAX_ATTEMPTS default 14)`,
    );
    await verifyCommon(ctx, { sender, pushes, orderIds: ids, supplier, baseUrl });
    await ctx.stopServicesGracefully();
  },
};
