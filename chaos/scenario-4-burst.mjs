// @ts-check
// Scenario 4: a burst 20× the seed's incident: 100,000 pushes as fast as 64 connections allow
// (--short: 10,000), with orders dispatched meanwhile. The burst begins while the workers are
// down (a deploy, a crash loop): they start once 40% of it is acknowledged, so a backlog builds
// whatever the relative speed of ingestion and applying on this machine. The backlog must be
// visible on /queues while it drains, /health/backlog must go 503 over BACKLOG_MAX_WAITING and
// come back to 200, readiness must stay 200 (the backlog is not a reason to take the API out of
// the load balancer), the service's Postgres connections must stay within its pools, and
// everything must be applied.
import {
  SUPPLIER_OPTIONS,
  backlogHealth,
  createOrders,
  dispatchEnv,
  fmt,
  makePushes,
  orderIds,
  PushSender,
  queueDepths,
  readiness,
  sampler,
  tally,
  tallyText,
  verifyCommon,
  waitApplied,
  waitSettled,
} from './lib.mjs';

// Thresholds are in jobs: an order-events job carries the pushes that arrived together (about
// 20 each in a burst on 2 CPUs), and /queues and BACKLOG_MAX_WAITING count jobs.
const SETTINGS = {
  short: { messages: 10_000, threshold: 100, orders: 300 },
  full: { messages: 100_000, threshold: 400, orders: 1_000 },
};
/** The other trigger of /health/backlog: the oldest waiting job older than this. */
const MAX_AGE_MS = 10_000;
const POOL_MAX = 10;
const PROCESSES = 3;

/** @type {import('./lib.mjs').Scenario} */
export default {
  id: 'burst',
  title: 'a burst 20× the seed incident: 100,000 pushes (--short: 10,000)',
  deadlineMs: (short) => (short ? 150_000 : 420_000),
  estimateMs: (short) => (short ? 50_000 : 150_000),
  async run(ctx) {
    const s = ctx.short ? SETTINGS.short : SETTINGS.full;
    const supplier = await ctx.startFakeSupplier(SUPPLIER_OPTIONS);
    const env = dispatchEnv(supplier, {
      DATABASE_POOL_MAX: String(POOL_MAX),
      BACKLOG_MAX_WAITING: String(s.threshold),
      BACKLOG_MAX_AGE_MS: String(MAX_AGE_MS),
    });
    const api = await ctx.startService({ label: 'api', role: 'api', env });
    ctx.did(
      `started the fake supplier API and ordersync api (port ${api.port}) on database ${ctx.databaseName}, queue prefix ${ctx.queuePrefix}; the 2 workers start once 40% of the burst is acknowledged`,
    );
    const baseUrl = () => api.baseUrl;

    const b0 = performance.now();
    const pushes = makePushes({ messages: s.messages, idBase: '367539019420540000', seed: 44 });
    ctx.did(
      `signed ${fmt(pushes.deliveries.length)} pushes in advance (${fmt(pushes.unique)} messages) in ${((performance.now() - b0) / 1000).toFixed(1)} s; BACKLOG_MAX_WAITING=${fmt(s.threshold)} jobs, BACKLOG_MAX_AGE_MS=${fmt(MAX_AGE_MS)}, DATABASE_POOL_MAX=${POOL_MAX} × ${PROCESSES} processes`,
    );

    const depth = sampler(ctx, 250, async () => (await queueDepths(api.baseUrl))['order-events']);
    const backlog = sampler(ctx, 250, () => backlogHealth(api.baseUrl));
    const ready = sampler(ctx, 250, () => readiness(api.baseUrl));
    const connections = sampler(ctx, 250, () => ctx.serviceConnections());
    const ids = orderIds('B', s.orders);
    const sender = new PushSender({ baseUrl, concurrency: 64 });
    const t0 = performance.now();
    const creating = createOrders(ctx, { baseUrl, ids, batchSize: 250 });
    const sending = sender.run(pushes.deliveries, { signal: ctx.signal });
    const startWorkersAt = Math.round(pushes.unique * 0.4);
    await ctx.waitFor(() => sender.acked.size >= startWorkersAt, { timeoutMs: 600_000, intervalMs: 50 });
    const w0 = performance.now();
    const ackedAtStart = sender.acked.size;
    const backlogAtStart = (await queueDepths(api.baseUrl))['order-events']?.waiting ?? 0;
    await Promise.all([1, 2].map((i) => ctx.startService({ label: `worker-${i}`, role: 'worker', env })));
    ctx.did(
      `${fmt(ackedAtStart)} pushes acknowledged ${((w0 - t0) / 1000).toFixed(1)} s into the burst (order-events waiting: ${fmt(backlogAtStart)} jobs): started 2 worker processes (up in ${((performance.now() - w0) / 1000).toFixed(1)} s)`,
    );
    await sending;
    const burstMs = performance.now() - t0;
    const created = await creating;
    ctx.did(
      `burst sent: ${fmt(sender.acked.size)}/${fmt(sender.sentIds.size)} acknowledged in ${(burstMs / 1000).toFixed(1)} s (${fmt(Math.round(sender.deliveries / (burstMs / 1000)))} pushes/s, 64 connections, keep-alive), ${fmt(created.created)} orders created meanwhile`,
    );

    const applyMs = await waitApplied(ctx, sender.acked, ctx.short ? 60_000 : 240_000, baseUrl);
    const drainedAt = performance.now();
    ctx.did(
      applyMs === null
        ? 'NOT every acknowledged message got applied in time'
        : `backlog drained ${(applyMs / 1000).toFixed(1)} s after the burst ended (${((drainedAt - t0) / 1000).toFixed(1)} s after it began)`,
    );
    const settleMs = await waitSettled(ctx, baseUrl, ids, 60_000);
    ctx.did(settleMs === null ? 'orders did NOT settle in time' : 'every order settled and the work queues are idle');
    const backlogAgain = await ctx.waitFor(async () => (await backlogHealth(api.baseUrl)).status === 200, { timeoutMs: 30_000 });
    const backlogAgainAt = performance.now();
    await ctx.sleep(500);
    const [depthSamples, backlogSamples, readySamples, connectionSamples] = await Promise.all([
      depth.stop(),
      backlog.stop(),
      ready.stop(),
      connections.stop(),
    ]);

    // Jobs carry the messages that arrived together: waiting counts jobs, not messages.
    const maxWaiting = Math.max(0, ...depthSamples.map((x) => x.value?.waiting ?? 0));
    const maxAge = Math.max(0, ...depthSamples.map((x) => x.value?.oldestWaitingAgeMs ?? 0));
    const backlogDown = backlogSamples.filter((x) => x.value?.status === 503 && x.value.down.includes('backlog'));
    const backlogOther = backlogSamples.filter(
      (x) => x.value !== undefined && x.value.status !== 200 && !(x.value.status === 503 && x.value.down.includes('backlog')),
    );
    const firstDown = backlogDown[0]?.t;
    const lastDown = backlogDown.at(-1)?.t;
    const readyCounts = tally(readySamples, (v) => (v.status === 200 ? '200' : `${v.status} (${v.down.join('+') || '?'})`));
    const readyMaxMs = Math.max(0, ...readySamples.map((x) => x.value?.ms ?? 0));
    const maxConnections = Math.max(0, ...connectionSamples.map((x) => x.value ?? 0));
    const bound = Math.min(20, POOL_MAX) * PROCESSES;
    const applyRate = sender.acked.size / ((drainedAt - t0) / 1000);

    ctx.figure('burst: pushes accepted per second', Math.round(sender.deliveries / (burstMs / 1000)));
    ctx.figure(
      'burst duration / drained after',
      `${(burstMs / 1000).toFixed(1)} s / ${applyMs === null ? 'never' : `${(applyMs / 1000).toFixed(1)} s more`}`,
    );
    ctx.figure('messages applied per second (burst start → all applied)', Math.round(applyRate));
    ctx.figure('max order-events jobs waiting seen on /queues', maxWaiting);
    ctx.figure('max oldestWaitingAgeMs seen', `${fmt(maxAge)} ms`);
    ctx.figure('/health/backlog 503 (backlog) samples / other non-200 samples', `${backlogDown.length} / ${backlogOther.length}`);
    ctx.figure(
      '/health/backlog 503 for',
      firstDown === undefined || lastDown === undefined
        ? '–'
        : `${((lastDown - firstDown) / 1000).toFixed(1)} s; 200 again ${((backlogAgainAt - t0) / 1000).toFixed(1)} s after the burst began`,
    );
    ctx.figure('readiness samples during the run', tallyText(readyCounts));
    ctx.figure('slowest readiness answer', `${readyMaxMs.toFixed(0)} ms`);
    ctx.figure('max service Postgres connections (bound)', `${maxConnections} (≤ ${bound} = min(20, ${POOL_MAX}) × ${PROCESSES})`);

    ctx.check(
      `the backlog was visible on /queues (max waiting ${fmt(maxWaiting)} jobs > BACKLOG_MAX_WAITING ${fmt(s.threshold)})`,
      maxWaiting > s.threshold,
    );
    ctx.check(
      '/health/backlog went 503 because of the backlog, and only because of it',
      backlogDown.length > 0 && backlogOther.length === 0,
      `${backlogDown.length} backlog 503s, ${backlogOther.length} others${backlogOther.length ? ` (${[...new Set(backlogOther.map((x) => `${x.value?.status} ${x.value?.down.join('+')}`))].join(', ')})` : ''}`,
    );
    ctx.check('/health/backlog back to 200 after the backlog drained', backlogAgain !== null);
    ctx.check(
      'readiness stayed 200 throughout (the backlog never makes a process unready)',
      readySamples.length > 0 && (readyCounts['200'] ?? 0) === readySamples.length,
      tallyText(readyCounts),
    );
    ctx.check(
      `the service's Postgres connections stayed bounded (max ${maxConnections} ≤ ${bound})`,
      maxConnections > 0 && maxConnections <= bound,
      `${connectionSamples.length} samples`,
    );
    await verifyCommon(ctx, { sender, pushes, orderIds: ids, supplier, baseUrl });
    await ctx.stopServicesGracefully();
  },
};
