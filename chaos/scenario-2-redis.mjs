// Scenario 2: Redis stopped and restarted mid-load. ordersync (api + worker) runs against a
// private redis-server (AOF, fsync always); while pushes stream and orders are dispatched, Redis
// goes away for ~5 s (SHUTDOWN, and in the full run also kill -9) and comes back from the same
// directory (AOF reload). While it is away a push must get 503, never 2xx, and readiness 503;
// afterwards every push answered 2xx is applied and readiness is 200 again.
import { performance } from 'node:perf_hooks';
import { SUPPLIER_OPTIONS, createOrders, dispatchEnv, fmt, makePushes, orderIds, PushSender, readiness, sampler, startFleet, verifyCommon, waitApplied, waitSettled } from './lib.mjs';

const SETTINGS = {
  short: { seconds: 12, rate: 250, orders: 300, outages: [{ atMs: 3_000, how: 'kill -9', downMs: 5_000 }] },
  full: {
    seconds: 50,
    rate: 300,
    orders: 1_500,
    outages: [
      { atMs: 8_000, how: 'SHUTDOWN', downMs: 5_000 },
      { atMs: 30_000, how: 'kill -9', downMs: 5_000 },
    ],
  },
};

export default {
  id: 'redis',
  title: 'Redis stopped and restarted mid-load',
  deadlineMs: (short) => (short ? 100_000 : 200_000),
  async run(ctx) {
    const s = ctx.short ? SETTINGS.short : SETTINGS.full;
    const redis = await ctx.startPrivateRedis();
    ctx.did(`started a private redis-server on port ${redis.port} (appendonly yes, appendfsync always, its own directory)`);
    const supplier = await ctx.startFakeSupplier(SUPPLIER_OPTIONS);
    const { api } = await startFleet(ctx, dispatchEnv(supplier), { workers: 1 });
    const baseUrl = () => api.baseUrl;

    const ready = sampler(ctx, 200, () => readiness(api.baseUrl));
    const pushes = makePushes({ messages: s.seconds * s.rate, seed: 22 });
    const ids = orderIds('R', s.orders);
    const sender = new PushSender({ baseUrl, concurrency: 32, timeline: true });
    const windowMs = s.seconds * 1_000;
    ctx.did(`streaming ${fmt(pushes.deliveries.length)} pushes at ${s.rate}/s for ${s.seconds} s and creating ${fmt(s.orders)} orders over ${Math.round(windowMs * 0.6 / 1000)} s`);
    const t0 = performance.now();
    const sending = sender.run(pushes.deliveries, { ratePerSec: s.rate, signal: ctx.signal });
    const creating = createOrders(ctx, { baseUrl, ids, batchSize: 50, gapMs: Math.max(0, (windowMs * 0.6) / Math.ceil(s.orders / 50) - 30) });

    const windows = [];
    for (const outage of s.outages) {
      const wait = t0 + outage.atMs - performance.now();
      if (wait > 0) await ctx.sleep(wait);
      const keysBefore = await redis.dbsize();
      const acked = sender.acked.size;
      if (outage.how === 'SHUTDOWN') await redis.shutdown();
      else await redis.kill9();
      const downAt = performance.now();
      ctx.log(`redis ${outage.how} (${fmt(keysBefore)} keys, ${fmt(acked)} messages acknowledged so far); back in ${outage.downMs / 1000} s`);
      await ctx.sleep(outage.downMs);
      const upStart = performance.now();
      await redis.start();
      const upAt = performance.now();
      const keysAfter = await redis.dbsize();
      ctx.log(`redis restarted from its AOF in ${((upAt - upStart) / 1000).toFixed(1)} s (${fmt(keysAfter)} keys)`);
      windows.push({ how: outage.how, downAt, upStart, upAt, keysBefore, keysAfter });
    }
    ctx.did(`stopped Redis ${windows.length} time${windows.length > 1 ? 's' : ''} (${windows.map((w) => `${w.how}, down ${((w.upStart - w.downAt) / 1000).toFixed(1)} s`).join('; ')}) and restarted it with the same directory (AOF reload)`);

    await sending;
    const created = await creating;
    ctx.did(`sender done: ${fmt(sender.acked.size)}/${fmt(sender.sentIds.size)} messages acknowledged after ${fmt(sender.retries)} re-sends; ${fmt(created.created)} orders created (${created.retries} batch re-sends)`);
    // A job a worker had fetched as Redis died comes back only through BullMQ's stalled-job check
    // (30 s lock, 30 s interval for order-events): allow for it.
    const applyMs = await waitApplied(ctx, sender.acked, 90_000, baseUrl);
    const sinceRestart = (performance.now() - windows.at(-1).upAt) / 1000;
    ctx.did(applyMs === null ? 'NOT every acknowledged message got applied in time' : `every acknowledged message applied ${(applyMs / 1000).toFixed(1)} s after the sender finished (${sinceRestart.toFixed(1)} s after Redis came back)`);
    if (applyMs !== null) ctx.figure('every acknowledged message applied after Redis came back', `${sinceRestart.toFixed(1)} s`);
    const settleMs = await waitSettled(ctx, baseUrl, ids, 60_000);
    ctx.did(settleMs === null ? 'orders did NOT settle in time' : 'every order settled and the work queues are idle');
    // Readiness must come back once Redis is there and the backlog is gone.
    const readyAgain = await ctx.waitFor(async () => (await readiness(api.baseUrl)).status === 200, { timeoutMs: 20_000 });
    await ctx.sleep(500);
    const samples = await ready.stop();

    // Requests sent after Redis was gone and answered before it was started again.
    let okWhileDown = 0;
    let refusedWhileDown = 0;
    let otherWhileDown = 0;
    let readyDown = 0;
    let readyUpWhileDown = 0;
    for (const w of windows) {
      for (const r of sender.timeline) {
        if (r.t0 < w.downAt || r.t1 > w.upStart) continue;
        if (r.status.startsWith('2')) okWhileDown += 1;
        else if (r.status === '503') refusedWhileDown += 1;
        else otherWhileDown += 1;
      }
      // Readiness: give the service one second to notice.
      for (const sample of samples) {
        if (sample.t < w.downAt + 1_000 || sample.t > w.upStart) continue;
        if (sample.value?.status === 503) readyDown += 1;
        else readyUpWhileDown += 1;
      }
    }
    const recovered = windows.map((w) => {
      const first = samples.find((sample) => sample.t > w.upAt && sample.value?.status === 200);
      return first ? (first.t - w.upAt) / 1000 : null;
    });
    ctx.figure('Redis outages', windows.map((w) => `${w.how} ${((w.upStart - w.downAt) / 1000).toFixed(1)} s`).join(', '));
    ctx.figure('pushes answered while Redis was down: 2xx / 503 / other', `${okWhileDown} / ${fmt(refusedWhileDown)} / ${otherWhileDown}`);
    ctx.figure('readiness samples while down: 503 / 200', `${readyDown} / ${readyUpWhileDown}`);
    ctx.figure('readiness 200 again after restart', recovered.map((s) => (s === null ? 'never' : `${s.toFixed(1)} s`)).join(', '));
    ctx.figure('Redis keys before stop → after AOF reload', windows.map((w) => `${fmt(w.keysBefore)} → ${fmt(w.keysAfter)}`).join(', '));

    ctx.check('no push answered 2xx while Redis was down', okWhileDown === 0, `${okWhileDown} 2xx among requests sent after the stop and answered before the restart`);
    ctx.check('pushes got 503 while Redis was down (so 1688 re-sends them)', refusedWhileDown > 0, `${fmt(refusedWhileDown)} × 503, ${otherWhileDown} other`);
    ctx.check('readiness 503 while Redis was down', readyDown > 0 && readyUpWhileDown === 0, `${readyDown} × 503, ${readyUpWhileDown} × 200`);
    ctx.check('readiness 200 again after Redis came back', readyAgain !== null && recovered.every((x) => x !== null), recovered.map((x) => (x === null ? 'never' : `${x.toFixed(1)} s`)).join(', '));
    await verifyCommon(ctx, { sender, pushes, orderIds: ids, supplier, baseUrl });
    await ctx.stopServicesGracefully();
  },
};
