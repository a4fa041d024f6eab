// Scenario 3: Postgres unavailable mid-load. While pushes stream and orders are dispatched,
// the service's connections are cut again and again (pg_terminate_backend every 300 ms for a few
// seconds), and in a second phase the database refuses new connections altogether
// (ALTER DATABASE ... ALLOW_CONNECTIONS false, plus the same terminations) before it is allowed
// again. Messages must wait and be retried, not dead-lettered; every push answered 2xx applied.
import { performance } from 'node:perf_hooks';
import { CHAOS_APP_NAME, SUPPLIER_OPTIONS, createOrders, dispatchEnv, fmt, makePushes, orderIds, PushSender, queueDepths, readiness, sampler, startFleet, verifyCommon, waitApplied, waitSettled } from './lib.mjs';
import pg from 'pg';

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

export default {
  id: 'postgres',
  title: 'Postgres unavailable mid-load',
  deadlineMs: (short) => (short ? 75_000 : 180_000),
  async run(ctx) {
    const s = ctx.short ? SETTINGS.short : SETTINGS.full;
    ctx.watchLog('apply attempts failed', /message not applied/);
    ctx.watchLog('dispatch-result attempts failed', /dispatch result not applied/);
    const supplier = await ctx.startFakeSupplier(SUPPLIER_OPTIONS);
    const { api } = await startFleet(ctx, dispatchEnv(supplier), { workers: 2 });
    const baseUrl = () => api.baseUrl;
    const admin = ctx.admin();
    const db = pg.escapeIdentifier(ctx.databaseName);

    const ready = sampler(ctx, 250, () => readiness(api.baseUrl));
    const pushes = makePushes({ messages: s.seconds * s.rate, idBase: '267539019420540000', seed: 33 });
    const ids = orderIds('P', s.orders);
    const sender = new PushSender({ baseUrl, concurrency: 32 });
    const windowMs = s.seconds * 1_000;
    ctx.did(`streaming ${fmt(pushes.deliveries.length)} pushes at ${s.rate}/s for ${s.seconds} s and creating ${fmt(s.orders)} orders over ${Math.round(windowMs * 0.7 / 1000)} s`);
    const t0 = performance.now();
    const sending = sender.run(pushes.deliveries, { ratePerSec: s.rate, signal: ctx.signal });
    const creating = createOrders(ctx, { baseUrl, ids, batchSize: 50, gapMs: Math.max(0, (windowMs * 0.7) / Math.ceil(s.orders / 50) - 30) });

    let terminated = 0;
    const phases = [];
    const outages = [];
    const terminateFor = async (ms) => {
      const end = performance.now() + ms;
      while (performance.now() < end) {
        const { rows } = await admin.query(
          `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
           WHERE datname = $1 AND pid <> pg_backend_pid() AND application_name IS DISTINCT FROM $2`,
          [ctx.databaseName, CHAOS_APP_NAME],
        );
        terminated += rows[0].n;
        await ctx.sleep(300);
      }
    };
    try {
      for (const phase of s.phases) {
        const wait = t0 + phase.atMs - performance.now();
        if (wait > 0) await ctx.sleep(wait);
        const before = terminated;
        const start = performance.now();
        if (phase.kind === 'refuse') {
          await admin.query(`ALTER DATABASE ${db} ALLOW_CONNECTIONS false`);
          await terminateFor(phase.ms);
          await admin.query(`ALTER DATABASE ${db} ALLOW_CONNECTIONS true`);
        } else {
          await terminateFor(phase.ms);
        }
        const what = phase.kind === 'refuse' ? 'ALLOW_CONNECTIONS false + pg_terminate_backend every 300 ms' : 'pg_terminate_backend every 300 ms';
        const seconds = ((performance.now() - start) / 1000).toFixed(1);
        // Dead letters so far tell which kind of outage produced them.
        await ctx.sleep(1_000);
        const dead = await queueDepths(api.baseUrl).then((q) => q['order-events'].deadLettered, () => 'unknown (api not answering)');
        phases.push(`${what} for ${seconds} s: ${terminated - before} backends terminated; order-events dead letters 1 s later: ${fmt(dead)}`);
        outages.push(`${phase.kind === 'refuse' ? 'refusing connections' : 'connections cut'} ${seconds} s`);
        ctx.log(`${what}: ${terminated - before} service backends terminated; sender ${fmt(sender.acked.size)} acknowledged; ${fmt(dead)} order-events dead letters so far`);
      }
    } finally {
      await admin.query(`ALTER DATABASE ${db} ALLOW_CONNECTIONS true`).catch(() => undefined);
    }
    for (const phase of phases) ctx.did(phase);

    await sending;
    const created = await creating;
    ctx.did(`sender done: ${fmt(sender.acked.size)}/${fmt(sender.sentIds.size)} messages acknowledged after ${fmt(sender.retries)} re-sends; ${fmt(created.created)} orders created (${created.retries} batch re-sends after errors)`);
    const applyMs = await waitApplied(ctx, sender.acked, 75_000, baseUrl);
    ctx.did(applyMs === null ? 'NOT every acknowledged message got applied in time' : `every acknowledged message applied ${(applyMs / 1000).toFixed(1)} s after the sender finished`);
    const settleMs = await waitSettled(ctx, baseUrl, ids, 60_000);
    ctx.did(settleMs === null ? 'orders did NOT settle in time' : 'every order settled and the work queues are idle');
    const readyAgain = await ctx.waitFor(async () => (await readiness(api.baseUrl)).status === 200, { timeoutMs: 20_000 });
    const samples = await ready.stop();
    const notReady = samples.filter((x) => x.value?.status === 503).length;

    const applyRetries = ctx.logCounts.get('apply attempts failed') ?? 0;
    ctx.figure('Postgres outages', outages.join(', '));
    ctx.figure('service backends terminated', terminated);
    ctx.figure('apply attempts that failed and were retried (worker log)', applyRetries);
    ctx.figure('readiness samples 503 / total', `${notReady} / ${samples.length}`);
    ctx.check('the outage hit the service: connections terminated and message batches failed, then retried', terminated > 0 && applyRetries > 0, `${terminated} backends terminated, ${applyRetries} failed apply attempts logged`);
    ctx.check('readiness 200 after the outage', readyAgain !== null);
    await verifyCommon(ctx, { sender, pushes, orderIds: ids, supplier, baseUrl });
    await ctx.stopServicesGracefully();
  },
};
