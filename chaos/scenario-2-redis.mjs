// @ts-check
// Scenario 2: Redis stopped and restarted mid-load. ordersync (api + worker) runs against a
// private redis-server (AOF, fsync always); while pushes stream and orders are dispatched, Redis
// goes away for ~5 s (SHUTDOWN, and in the full run also kill -9) and comes back from the same
// directory (AOF reload). While it is away a push must get 503, never 2xx, and the API's
// readiness 503; afterwards every push answered 2xx is applied and readiness is 200 again.
// Scenario 6 is the same with one long outage (redisScenario below).
import {
  SUPPLIER_OPTIONS,
  createOrders,
  dispatchEnv,
  fmt,
  makePushes,
  orderIds,
  PushSender,
  readiness,
  sampler,
  startFleet,
  verifyCommon,
  waitApplied,
  waitSettled,
} from './lib.mjs';

/**
 * @typedef {object} RedisSettings
 * @property {number} seconds how long pushes stream
 * @property {number} rate pushes per second
 * @property {number} orders
 * @property {{ atMs: number, how: 'SHUTDOWN' | 'kill -9', downMs: number }[]} outages
 * @property {number} [senderAttempts] deliveries of one push at most (long outages need more)
 * @property {number} [senderMaxGapMs] longest gap between two deliveries of a push (default 3000)
 * @property {number} [ordersOverFraction] share of the streaming window orders are created over
 */

/**
 * @param {{ id: string, title: string, fullOnly?: boolean, short: RedisSettings, full: RedisSettings, deadlineMs: (short: boolean) => number, estimateMs: (short: boolean) => number, seed: number }} spec
 * @returns {import('./lib.mjs').Scenario}
 */
export function redisScenario(spec) {
  return {
    id: spec.id,
    title: spec.title,
    fullOnly: spec.fullOnly,
    deadlineMs: spec.deadlineMs,
    estimateMs: spec.estimateMs,
    async run(ctx) {
      const s = ctx.short ? spec.short : spec.full;
      const redis = await ctx.startPrivateRedis();
      ctx.did(`started a private redis-server on port ${redis.port} (appendonly yes, appendfsync always, its own directory)`);
      const supplier = await ctx.startFakeSupplier(SUPPLIER_OPTIONS);
      const { api } = await startFleet(ctx, dispatchEnv(supplier), { workers: 1 });
      const baseUrl = () => api.baseUrl;

      const ready = sampler(ctx, 200, () => readiness(api.baseUrl));
      const pushes = makePushes({ messages: s.seconds * s.rate, seed: spec.seed });
      const ids = orderIds(spec.id === 'redis' ? 'R' : 'RL', s.orders);
      // 1688 itself re-sends a few times only; this sender stands for it and for 1688's
      // later re-sends, so that a push refused during the outage is sent again afterwards.
      const sender = new PushSender({
        baseUrl,
        concurrency: 32,
        timeline: true,
        attempts: s.senderAttempts ?? 14,
        maxGapMs: s.senderMaxGapMs ?? 3_000,
      });
      const windowMs = s.seconds * 1_000;
      const ordersOver = windowMs * (s.ordersOverFraction ?? 0.6);
      ctx.did(
        `streaming ${fmt(pushes.deliveries.length)} pushes at ${s.rate}/s for ${s.seconds} s and creating ${fmt(s.orders)} orders over ${Math.round(ordersOver / 1000)} s`,
      );
      const t0 = performance.now();
      const sending = sender.run(pushes.deliveries, { ratePerSec: s.rate, signal: ctx.signal });
      const creating = createOrders(ctx, {
        baseUrl,
        ids,
        batchSize: 50,
        gapMs: Math.max(0, ordersOver / Math.ceil(s.orders / 50) - 30),
        patienceMs: 180_000,
      });

      /** @type {{ how: string, downAt: number, upStart: number, upAt: number, keysBefore: number, keysAfter: number }[]} */
      const windows = [];
      for (const outage of s.outages) {
        const wait = t0 + outage.atMs - performance.now();
        if (wait > 0) await ctx.sleep(wait);
        const keysBefore = await redis.dbsize();
        const acked = sender.acked.size;
        if (outage.how === 'SHUTDOWN') await redis.shutdown();
        else await redis.kill9();
        const downAt = performance.now();
        ctx.log(
          `redis ${outage.how} (${fmt(keysBefore)} keys, ${fmt(acked)} messages acknowledged so far); back in ${outage.downMs / 1000} s`,
        );
        await ctx.sleep(outage.downMs);
        const upStart = performance.now();
        await redis.start();
        const upAt = performance.now();
        const keysAfter = await redis.dbsize();
        ctx.log(`redis restarted from its AOF in ${((upAt - upStart) / 1000).toFixed(1)} s (${fmt(keysAfter)} keys)`);
        windows.push({ how: outage.how, downAt, upStart, upAt, keysBefore, keysAfter });
      }
      ctx.did(
        `stopped Redis ${windows.length} time${windows.length > 1 ? 's' : ''} (${windows.map((w) => `${w.how}, down ${((w.upStart - w.downAt) / 1000).toFixed(1)} s`).join('; ')}) and restarted it with the same directory (AOF reload)`,
      );

      await sending;
      const created = await creating;
      ctx.did(
        `sender done: ${fmt(sender.acked.size)}/${fmt(sender.sentIds.size)} messages acknowledged after ${fmt(sender.retries)} re-sends; ${fmt(created.created)} orders created (${created.retries} batch re-sends; answers ${Object.entries(
          created.answers,
        )
          .map(([k, v]) => `${k} × ${v}`)
          .join(', ')})`,
      );
      // A job a worker had fetched as Redis died comes back only through BullMQ's stalled-job check
      // (30 s lock, 30 s interval for order-events): allow for it.
      const applyMs = await waitApplied(ctx, sender.acked, 120_000, baseUrl);
      const lastUp = /** @type {(typeof windows)[number]} */ (windows.at(-1)).upAt;
      const sinceRestart = (performance.now() - lastUp) / 1000;
      ctx.did(
        applyMs === null
          ? 'NOT every acknowledged message got applied in time'
          : `every acknowledged message applied ${(applyMs / 1000).toFixed(1)} s after the sender finished (${sinceRestart.toFixed(1)} s after Redis came back)`,
      );
      if (applyMs !== null) ctx.figure('every acknowledged message applied after Redis came back', `${sinceRestart.toFixed(1)} s`);
      const settleMs = await waitSettled(ctx, baseUrl, ids, 90_000);
      ctx.did(
        settleMs === null
          ? 'orders did NOT settle in time'
          : `every order settled and the work queues are idle ${((performance.now() - lastUp) / 1000).toFixed(1)} s after Redis came back`,
      );
      // Readiness must come back once Redis is there.
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
        for (const r of sender.timeline ?? []) {
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
      // How soon the API took pushes again (its publisher has a connection of its own).
      const firstAck = windows.map((w) => {
        const first = (sender.timeline ?? []).filter((r) => r.t0 > w.upAt && r.status.startsWith('2')).sort((a, b) => a.t1 - b.t1)[0];
        return first ? (first.t1 - w.upAt) / 1000 : null;
      });
      ctx.figure(
        'first push answered 2xx after Redis came back',
        firstAck.map((x) => (x === null ? 'never' : `${x.toFixed(1)} s`)).join(', '),
      );
      ctx.figure('Redis outages', windows.map((w) => `${w.how} ${((w.upStart - w.downAt) / 1000).toFixed(1)} s`).join(', '));
      ctx.figure(
        'pushes answered while Redis was down: 2xx / 503 / other',
        `${okWhileDown} / ${fmt(refusedWhileDown)} / ${otherWhileDown}`,
      );
      ctx.figure('readiness samples while down: 503 / 200', `${readyDown} / ${readyUpWhileDown}`);
      ctx.figure('readiness 200 again after restart', recovered.map((x) => (x === null ? 'never' : `${x.toFixed(1)} s`)).join(', '));
      ctx.figure('Redis keys before stop → after AOF reload', windows.map((w) => `${fmt(w.keysBefore)} → ${fmt(w.keysAfter)}`).join(', '));

      ctx.check(
        'no push answered 2xx while Redis was down',
        okWhileDown === 0,
        `${okWhileDown} 2xx among requests sent after the stop and answered before the restart`,
      );
      ctx.check(
        'pushes got 503 while Redis was down (so 1688 re-sends them)',
        refusedWhileDown > 0,
        `${fmt(refusedWhileDown)} × 503, ${otherWhileDown} other`,
      );
      ctx.check(
        'the API reported not ready (503) while Redis was down',
        readyDown > 0 && readyUpWhileDown === 0,
        `${readyDown} × 503, ${readyUpWhileDown} × 200`,
      );
      ctx.check(
        'readiness 200 again after Redis came back',
        readyAgain !== null && recovered.every((x) => x !== null),
        recovered.map((x) => (x === null ? 'never' : `${x.toFixed(1)} s`)).join(', '),
      );
      await verifyCommon(ctx, { sender, pushes, orderIds: ids, supplier, baseUrl });
      await ctx.stopServicesGracefully();
    },
  };
}

export default redisScenario({
  id: 'redis',
  title: 'Redis stopped and restarted mid-load',
  seed: 22,
  deadlineMs: (short) => (short ? 150_000 : 240_000),
  estimateMs: (short) => (short ? 55_000 : 80_000),
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
});
