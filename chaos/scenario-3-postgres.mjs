// @ts-check
// Scenario 3: Postgres unavailable mid-load, in short bursts. While pushes stream and orders are
// dispatched, the service's connections are cut again and again (pg_terminate_backend every
// 300 ms for a few seconds), and in a second phase the database refuses new connections
// altogether (ALTER DATABASE ... ALLOW_CONNECTIONS false, plus the same terminations) before it
// is allowed again. Messages must wait and be taken up again, using no attempt and
// dead-lettering nothing; the API stays ready (it does not need Postgres); every push answered
// 2xx is applied. Scenario 5 is the long outage.
import {
  POSTGRES_WATCHES,
  SUPPLIER_OPTIONS,
  createOrders,
  cutConnectionsFor,
  dispatchEnv,
  fmt,
  makePushes,
  metricSum,
  metricsText,
  orderIds,
  PushSender,
  queueDepths,
  readiness,
  refuseConnectionsFor,
  sampler,
  startFleet,
  tally,
  tallyText,
  verifyCommon,
  waitApplied,
  waitSettled,
  watchPostgresOutage,
} from './lib.mjs';

/** @typedef {{ atMs: number, kind: 'terminate' | 'refuse', ms: number }} Phase */

/** @type {{ short: { seconds: number, rate: number, orders: number, phases: Phase[] }, full: { seconds: number, rate: number, orders: number, phases: Phase[] } }} */
const SETTINGS = {
  short: {
    seconds: 16,
    rate: 250,
    orders: 300,
    phases: [
      { atMs: 3_000, kind: 'terminate', ms: 5_000 },
      { atMs: 10_000, kind: 'refuse', ms: 4_000 },
    ],
  },
  full: {
    seconds: 50,
    rate: 300,
    orders: 1_500,
    phases: [
      { atMs: 5_000, kind: 'terminate', ms: 5_000 },
      { atMs: 18_000, kind: 'refuse', ms: 5_000 },
      { atMs: 32_000, kind: 'terminate', ms: 8_000 },
    ],
  },
};

/** @type {import('./lib.mjs').Scenario} */
export default {
  id: 'postgres',
  title: 'Postgres connections cut and refused in short bursts, mid-load',
  deadlineMs: (short) => (short ? 150_000 : 240_000),
  estimateMs: (short) => (short ? 50_000 : 80_000),
  async run(ctx) {
    const s = ctx.short ? SETTINGS.short : SETTINGS.full;
    watchPostgresOutage(ctx);
    const supplier = await ctx.startFakeSupplier(SUPPLIER_OPTIONS);
    const { api, workers } = await startFleet(ctx, dispatchEnv(supplier), { workers: 2, workerHttp: true });
    const baseUrl = () => api.baseUrl;

    const ready = sampler(ctx, 250, () => readiness(api.baseUrl));
    const pushes = makePushes({ messages: s.seconds * s.rate, idBase: '267539019420540000', seed: 33 });
    const ids = orderIds('P', s.orders);
    const sender = new PushSender({ baseUrl, concurrency: 32 });
    const windowMs = s.seconds * 1_000;
    ctx.did(
      `streaming ${fmt(pushes.deliveries.length)} pushes at ${s.rate}/s for ${s.seconds} s and creating ${fmt(s.orders)} orders over ${Math.round((windowMs * 0.7) / 1000)} s`,
    );
    const t0 = performance.now();
    const sending = sender.run(pushes.deliveries, { ratePerSec: s.rate, signal: ctx.signal });
    const creating = createOrders(ctx, {
      baseUrl,
      ids,
      batchSize: 50,
      gapMs: Math.max(0, (windowMs * 0.7) / Math.ceil(s.orders / 50) - 30),
    });

    let terminated = 0;
    /** @type {string[]} */
    const phases = [];
    /** @type {string[]} */
    const outages = [];
    for (const phase of s.phases) {
      const wait = t0 + phase.atMs - performance.now();
      if (wait > 0) await ctx.sleep(wait);
      const start = performance.now();
      const n = phase.kind === 'refuse' ? (await refuseConnectionsFor(ctx, phase.ms)).terminated : await cutConnectionsFor(ctx, phase.ms);
      terminated += n;
      const what =
        phase.kind === 'refuse' ? 'ALLOW_CONNECTIONS false + pg_terminate_backend every 300 ms' : 'pg_terminate_backend every 300 ms';
      const took = ((performance.now() - start) / 1000).toFixed(1);
      // Dead letters so far tell which kind of outage produced them.
      await ctx.sleep(1_000);
      const dead = await queueDepths(api.baseUrl).then(
        (q) => q['order-events']?.deadLettered ?? 'unknown',
        () => 'unknown (api not answering)',
      );
      phases.push(`${what} for ${took} s: ${n} backends terminated; order-events dead letters 1 s later: ${fmt(dead)}`);
      outages.push(`${phase.kind === 'refuse' ? 'refusing connections' : 'connections cut'} ${took} s`);
      ctx.log(
        `${what}: ${n} service backends terminated; sender ${fmt(sender.acked.size)} acknowledged; ${fmt(dead)} order-events dead letters so far`,
      );
    }
    for (const phase of phases) ctx.did(phase);

    await sending;
    const created = await creating;
    ctx.did(
      `sender done: ${fmt(sender.acked.size)}/${fmt(sender.sentIds.size)} messages acknowledged after ${fmt(sender.retries)} re-sends; ${fmt(created.created)} orders created (${created.retries} batch re-sends after errors)`,
    );
    const applyMs = await waitApplied(ctx, sender.acked, 90_000, baseUrl);
    ctx.did(
      applyMs === null
        ? 'NOT every acknowledged message got applied in time'
        : `every acknowledged message applied ${(applyMs / 1000).toFixed(1)} s after the sender finished`,
    );
    const settleMs = await waitSettled(ctx, baseUrl, ids, 60_000);
    ctx.did(settleMs === null ? 'orders did NOT settle in time' : 'every order settled and the work queues are idle');
    const readyAgain = await ctx.waitFor(async () => (await readiness(api.baseUrl)).status === 200, { timeoutMs: 20_000 });
    const samples = await ready.stop();
    const metrics = await Promise.all(workers.map((w) => metricsText(w.workerUrl)));
    const deferred = metrics.reduce(
      (sum, text) => sum + (text ? metricSum(text, 'ordersync_jobs_deferred_total', { reason: 'infrastructure' }) : 0),
      0,
    );

    const away = ctx.logCounts.get(POSTGRES_WATCHES.away) ?? 0;
    const attemptsUsed = ctx.logCounts.get(POSTGRES_WATCHES.attemptUsed) ?? 0;
    const readyCounts = tally(samples, (v) => v.status);
    ctx.figure('Postgres outages', outages.join(', '));
    ctx.figure('service backends terminated', terminated);
    ctx.figure('jobs put back without using an attempt (workers, infrastructure)', deferred);
    ctx.figure('"Postgres is away" / "workers resumed" log lines', `${away} / ${ctx.logCounts.get(POSTGRES_WATCHES.back) ?? 0}`);
    ctx.figure('attempts used in the queues that need Postgres (log lines)', attemptsUsed);
    ctx.figure('API readiness samples', tallyText(readyCounts));
    ctx.check(
      'the outage hit the service: connections terminated, jobs put back or workers paused',
      terminated > 0 && deferred + away > 0,
      `${terminated} backends terminated, ${deferred} jobs deferred, ${away} "Postgres is away" lines`,
    );
    const examples = ctx.watchExamples.get(POSTGRES_WATCHES.attemptUsed) ?? [];
    ctx.check(
      'no attempt used by the outage in the queues that need Postgres',
      attemptsUsed === 0,
      `${attemptsUsed} "job failed" lines${examples.length ? `, e.g. ${examples.join(' | ').replaceAll(ctx.databaseName, '<db>')}` : ''}`,
    );
    ctx.check(
      'the API stayed ready throughout (it does not need Postgres)',
      samples.length > 0 && (readyCounts['200'] ?? 0) === samples.length,
      tallyText(readyCounts),
    );
    ctx.check('readiness 200 after the outage', readyAgain !== null);
    await verifyCommon(ctx, { sender, pushes, orderIds: ids, supplier, baseUrl });
    await ctx.stopServicesGracefully();
  },
};
