// @ts-check
// Scenario 1: kill -9 of workers and of the API process, repeatedly, during ingestion and
// dispatch. An API and two workers (plus the fake supplier API); 1688 pushes stream in and orders
// are created and dispatched while a worker is killed every few seconds and the API once or
// twice, each restarted at once. The sender re-sends refused connections and non-2xx answers
// like 1688, so "lost" can only mean: answered 2xx, never applied.
import {
  SUPPLIER_OPTIONS,
  createOrders,
  dispatchEnv,
  fmt,
  makePushes,
  orderIds,
  PushSender,
  startFleet,
  verifyCommon,
  waitApplied,
  waitSettled,
} from './lib.mjs';

/** @import { ServiceProcess } from './lib.mjs' */

const SETTINGS = {
  short: {
    seconds: 10,
    rate: 250,
    orders: 400,
    workerKillEveryMs: 5_500,
    firstWorkerKillMs: 1_500,
    apiKillsAt: [4_000],
    killUntilMs: 8_000,
  },
  full: {
    seconds: 90,
    rate: 400,
    orders: 5_000,
    workerKillEveryMs: 4_000,
    firstWorkerKillMs: 2_000,
    apiKillsAt: [27_000, 63_000],
    killUntilMs: 77_000,
  },
};

/**
 * When to kill what: a worker every few seconds (alternating), the API at fixed points.
 *
 * @param {typeof SETTINGS.full} s
 */
function killSchedule(s) {
  /** @type {{ atMs: number, what: 'api' | 'worker' }[]} */
  const events = s.apiKillsAt.map((atMs) => ({ atMs, what: /** @type {const} */ ('api') }));
  for (let atMs = s.firstWorkerKillMs; atMs <= s.killUntilMs; atMs += s.workerKillEveryMs) events.push({ atMs, what: 'worker' });
  return events.sort((a, b) => a.atMs - b.atMs);
}

/** @type {import('./lib.mjs').Scenario} */
export default {
  id: 'kill',
  title: 'kill -9 of workers and of the API, repeatedly, during ingestion and dispatch',
  deadlineMs: (short) => (short ? 150_000 : 300_000),
  estimateMs: (short) => (short ? 60_000 : 130_000),
  async run(ctx) {
    const s = ctx.short ? SETTINGS.short : SETTINGS.full;
    const supplier = await ctx.startFakeSupplier(SUPPLIER_OPTIONS);
    const { api, workers } = await startFleet(ctx, dispatchEnv(supplier), { workers: 2 });
    const baseUrl = () => api.baseUrl;

    // Pushes name the supplier order ids the fake supplier hands out (idBase + n), so many of
    // them arrive before their order is dispatched (EXTERNAL placeholders merged on dispatch).
    const pushes = makePushes({ messages: s.seconds * s.rate, seed: 11 });
    const ids = orderIds('K', s.orders);
    const sender = new PushSender({ baseUrl, concurrency: 32 });
    const windowMs = s.seconds * 1_000;
    ctx.did(
      `streaming ${fmt(pushes.deliveries.length)} pushes (${fmt(pushes.unique)} messages, ${pushes.duplicates} 1688-style duplicates, some reordered) at ${s.rate}/s for ${s.seconds} s, and creating ${fmt(s.orders)} orders in batches of 50 over ${Math.round((windowMs * 0.6) / 1000)} s`,
    );
    const sending = sender.run(pushes.deliveries, { ratePerSec: s.rate, signal: ctx.signal });
    const batches = Math.ceil(s.orders / 50);
    const creating = createOrders(ctx, { baseUrl, ids, batchSize: 50, gapMs: Math.max(0, (windowMs * 0.6) / batches - 30) });

    // The chaos: restarts happen at once, in the background, so the schedule does not wait
    // for a slow start; the API comes back after 1 s on the same port.
    const t0 = performance.now();
    const schedule = killSchedule(s);
    let workerKills = 0;
    let apiKills = 0;
    let lastKillAt = t0;
    /** @type {number[]} */
    const restartTimes = [];
    /** @type {Map<ServiceProcess, Promise<void>>} */
    const restarting = new Map();
    /**
     * @param {ServiceProcess} proc
     * @param {number} pauseMs
     */
    const restartLater = (proc, pauseMs) => {
      const r = (async () => {
        await ctx.sleep(pauseMs);
        const r0 = performance.now();
        await proc.restart();
        restartTimes.push(performance.now() - r0);
        ctx.log(`${proc.label} back as pid ${proc.pid} after ${((performance.now() - r0) / 1000).toFixed(1)} s`);
      })();
      restarting.set(proc, r);
      r.finally(() => restarting.delete(proc)).catch(() => undefined);
    };
    for (const event of schedule) {
      const wait = t0 + event.atMs - performance.now();
      if (wait > 0) await ctx.sleep(wait);
      if (event.what === 'api') {
        await restarting.get(api);
        const pid = api.pid;
        await api.kill9();
        apiKills += 1;
        ctx.log(`kill -9 api (pid ${pid}); restarting it in 1 s on the same port`);
        restartLater(api, 1_000);
      } else {
        const worker =
          workers.find((w, i) => i === workerKills % workers.length && !restarting.has(w)) ?? workers.find((w) => !restarting.has(w));
        if (!worker) continue;
        const pid = worker.pid;
        await worker.kill9();
        workerKills += 1;
        ctx.log(
          `kill -9 ${worker.label} (pid ${pid}), restarting it; sender: ${fmt(sender.acked.size)} acknowledged, ${fmt(sender.retries)} re-sends`,
        );
        restartLater(worker, 200);
      }
      lastKillAt = performance.now();
    }
    await Promise.all(restarting.values());
    ctx.did(
      `killed a worker with SIGKILL ${workerKills} times and the API ${apiKills} time${apiKills === 1 ? '' : 's'} in the first ${Math.round((lastKillAt - t0) / 1000)} s, restarting each at once (start to "ordersync started": ${(Math.min(...restartTimes) / 1000).toFixed(1)}–${(Math.max(...restartTimes) / 1000).toFixed(1)} s)`,
    );

    await sending;
    const created = await creating;
    ctx.did(
      `sender done: ${fmt(sender.acked.size)}/${fmt(sender.sentIds.size)} messages acknowledged after ${fmt(sender.retries)} re-sends; orders: ${fmt(created.created)} created (${created.retries} batch re-sends after errors, ${created.existing} answered "existing")`,
    );

    const applyMs = await waitApplied(ctx, sender.acked, ctx.short ? 75_000 : 120_000, baseUrl);
    const sinceLastKill = (performance.now() - lastKillAt) / 1000;
    ctx.did(
      applyMs === null
        ? 'NOT every acknowledged message got applied in time'
        : `every acknowledged message applied ${(applyMs / 1000).toFixed(1)} s after the sender finished (${sinceLastKill.toFixed(1)} s after the last kill)`,
    );
    const settleMs = await waitSettled(ctx, baseUrl, ids, 60_000);
    ctx.did(settleMs === null ? 'orders did NOT settle in time' : 'every order settled and the work queues are idle');

    ctx.figure('worker kill -9 / API kill -9', `${workerKills} / ${apiKills}`);
    ctx.figure('time to apply everything after the last kill', `${sinceLastKill.toFixed(1)} s`);
    await verifyCommon(ctx, { sender, pushes, orderIds: ids, supplier, baseUrl });
    await ctx.stopServicesGracefully();
  },
};
