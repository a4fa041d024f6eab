// @ts-check
// Scenario 5: Postgres down for minutes under load (2 min; --short: 75 s, longer than the old
// retry budget of a job). The scenario's database refuses connections (ALTER DATABASE …
// ALLOW_CONNECTIONS false) and the service's backends are cut every 500 ms, while 1688 pushes
// keep coming and orders are created (POST /orders answers 503 meanwhile, and is re-sent) and
// dispatched. The server is shared: it is never stopped. Expected: the API stays ready (it does
// not need Postgres) and keeps answering pushes 2xx; /orders answers 503; the workers report not
// ready, pause and resume by themselves once the database answers; afterwards every push
// answered 2xx is applied exactly once, nothing is dead-lettered in any queue, no order FAILED,
// each order sent once, no attempt used by the outage, every process exits 0 on SIGTERM.
import {
  API_KEY,
  POSTGRES_WATCHES,
  SUPPLIER_OPTIONS,
  between,
  createOrders,
  dispatchEnv,
  fmt,
  health,
  httpJson,
  makePushes,
  metricSum,
  metricsText,
  orderIds,
  PushSender,
  readiness,
  refuseConnectionsFor,
  sampler,
  seconds,
  startFleet,
  tally,
  tallyText,
  verifyCommon,
  waitApplied,
  waitSettled,
  watchPostgresOutage,
} from './lib.mjs';

const SETTINGS = {
  short: { beforeMs: 12_000, outageMs: 75_000, afterMs: 10_000, rate: 150, orders: 600 },
  full: { beforeMs: 20_000, outageMs: 120_000, afterMs: 20_000, rate: 250, orders: 2_000 },
};

/** @type {import('./lib.mjs').Scenario} */
export default {
  id: 'postgres-outage',
  title: 'Postgres down for 2 minutes under load (--short: 75 s)',
  deadlineMs: (short) => (short ? 300_000 : 420_000),
  estimateMs: (short) => (short ? 150_000 : 230_000),
  async run(ctx) {
    const s = ctx.short ? SETTINGS.short : SETTINGS.full;
    watchPostgresOutage(ctx);
    const supplier = await ctx.startFakeSupplier(SUPPLIER_OPTIONS);
    const { api, workers } = await startFleet(ctx, dispatchEnv(supplier), { workers: 2, workerHttp: true });
    const baseUrl = () => api.baseUrl;

    const windowMs = s.beforeMs + s.outageMs + s.afterMs;
    const pushes = makePushes({ messages: Math.round((windowMs / 1000) * s.rate), idBase: '567539019420540000', seed: 55 });
    const ids = orderIds('PO', s.orders);
    const sender = new PushSender({ baseUrl, concurrency: 32 });
    const apiReady = sampler(ctx, 250, () => readiness(api.baseUrl));
    const workerReady = workers.map((w) => sampler(ctx, 500, () => health(`${w.workerUrl}/health/ready`)));
    const orderReads = sampler(ctx, 500, async () => {
      const answer = await httpJson('GET', `${api.baseUrl}/orders?limit=1`, { key: API_KEY, timeoutMs: 10_000 });
      return { status: answer.status, ms: answer.ms };
    });
    ctx.did(
      `streaming ${fmt(pushes.deliveries.length)} pushes at ${s.rate}/s for ${seconds(windowMs)} and creating ${fmt(s.orders)} orders in batches of 50 over the same time; the database refuses connections from ${seconds(s.beforeMs)} for ${seconds(s.outageMs)}`,
    );
    const t0 = performance.now();
    const sending = sender.run(pushes.deliveries, { ratePerSec: s.rate, signal: ctx.signal });
    const creating = createOrders(ctx, { baseUrl, ids, batchSize: 50, spreadOverMs: windowMs, patienceMs: s.outageMs + 120_000 });

    await ctx.sleep(Math.max(0, t0 + s.beforeMs - performance.now()));
    const ackedBefore = sender.acked.size;
    const outage = await refuseConnectionsFor(ctx, s.outageMs, {
      everyMs: 500,
      onDown: () =>
        ctx.log(
          `database ${ctx.databaseName} refuses connections (ALLOW_CONNECTIONS false), the service's backends cut every 500 ms; ${fmt(ackedBefore)} pushes acknowledged so far`,
        ),
    });
    const ackedDuring = sender.acked.size - ackedBefore;
    // What was acknowledged up to now waited for the database: how long after it came back was it all applied?
    const ackedByUp = [...sender.acked];
    const upAtClock = Date.now();
    ctx.did(
      `the database refused connections for ${seconds(outage.upAt - outage.downAt)} (${outage.terminated} service backends terminated); ${fmt(ackedDuring)} pushes acknowledged meanwhile; allowed again`,
    );

    await sending;
    const created = await creating;
    ctx.did(
      `sender done: ${fmt(sender.acked.size)}/${fmt(sender.sentIds.size)} messages acknowledged after ${fmt(sender.retries)} re-sends; ${fmt(created.created)} orders created (POST /orders/batch answers: ${tallyText(created.answers)})`,
    );
    const applyMs = await waitApplied(ctx, sender.acked, 150_000, baseUrl);
    const { rows: lastRows } = await ctx
      .db()
      .query(
        `SELECT (extract(epoch FROM max(applied_at)) * 1000)::float8 AS last FROM inbox_messages WHERE source = '1688' AND message_id = ANY($1::text[])`,
        [ackedByUp],
      );
    const backlogAppliedMs = lastRows[0]?.last ? Math.max(0, lastRows[0].last - upAtClock) : null;
    ctx.did(
      applyMs === null
        ? 'NOT every acknowledged message got applied in time'
        : `every acknowledged message applied; the ${fmt(ackedByUp.length)} acknowledged before the database came back were all applied ${backlogAppliedMs === null ? '?' : seconds(backlogAppliedMs)} after it did`,
    );
    const settleMs = await waitSettled(ctx, baseUrl, ids, 120_000);
    ctx.did(
      settleMs === null
        ? 'orders did NOT settle in time'
        : `every order settled and the work queues idle ${seconds(performance.now() - outage.upAt)} after the database came back`,
    );
    const workersBack = await ctx.waitFor(
      async () => (await Promise.all(workers.map((w) => health(`${w.workerUrl}/health/ready`)))).every((h) => h.status === 200),
      { timeoutMs: 20_000 },
    );
    await ctx.sleep(500);
    const apiSamples = await apiReady.stop();
    const workerSamples = await Promise.all(workerReady.map((x) => x.stop()));
    const readSamples = await orderReads.stop();
    const metrics = await Promise.all(workers.map((w) => metricsText(w.workerUrl)));
    const deferred = metrics.reduce(
      (sum, text) => sum + (text ? metricSum(text, 'ordersync_jobs_deferred_total', { reason: 'infrastructure' }) : 0),
      0,
    );

    // Readiness and /orders while the database was away (a second's grace at each end).
    const during = (/** @type {import('./lib.mjs').Sample<any>[]} */ samples) => between(samples, outage.downAt + 1_500, outage.upAt);
    const apiCounts = tally(apiSamples, (v) => v.status);
    const readsDuring = during(readSamples);
    const readCounts = tally(readsDuring, (v) => v.status);
    const readMaxMs = Math.max(0, ...readsDuring.map((x) => x.value?.ms ?? 0));
    const workerDown = workerSamples.map((samples) => tally(during(samples).slice(6), (v) => v.status));
    const workerRecovered = workerSamples.map((samples) => {
      const first = samples.find((x) => x.t > outage.upAt && x.value?.status === 200);
      return first ? (first.t - outage.upAt) / 1000 : null;
    });
    const perWorker = workers.map((w) => ({
      label: w.label,
      away: ctx.logCountOf(POSTGRES_WATCHES.away, w.label),
      back: ctx.logCountOf(POSTGRES_WATCHES.back, w.label),
    }));
    const attemptsUsed = ctx.logCounts.get(POSTGRES_WATCHES.attemptUsed) ?? 0;

    ctx.figure('outage', `ALLOW_CONNECTIONS false for ${seconds(outage.upAt - outage.downAt)}, ${outage.terminated} backends terminated`);
    ctx.figure('pushes acknowledged during the outage', ackedDuring);
    ctx.figure('API readiness samples (whole run)', tallyText(apiCounts));
    ctx.figure('GET /orders answers during the outage', `${tallyText(readCounts)}; slowest ${readMaxMs.toFixed(0)} ms`);
    ctx.figure('POST /orders/batch answers (whole run)', tallyText(created.answers));
    ctx.figure('worker readiness during the outage', workerDown.map((c, i) => `${workers[i]?.label}: ${tallyText(c)}`).join('; '));
    ctx.figure(
      'worker readiness 200 again after the outage',
      workerRecovered.map((x, i) => `${workers[i]?.label}: ${x === null ? 'never' : `${x.toFixed(1)} s`}`).join('; '),
    );
    ctx.figure(
      '"Postgres is away" / "workers resumed" log lines per worker',
      perWorker.map((w) => `${w.label}: ${w.away} / ${w.back}`).join('; '),
    );
    ctx.figure('jobs put back without using an attempt (workers, infrastructure)', deferred);
    ctx.figure('attempts used in the queues that need Postgres (log lines)', attemptsUsed);
    if (backlogAppliedMs !== null)
      ctx.figure('pushes acknowledged before the database came back: all applied after', seconds(backlogAppliedMs));

    ctx.check(
      'pushes kept being acknowledged (2xx) while Postgres was away',
      ackedDuring > 0,
      `${fmt(ackedDuring)} acknowledged during the outage`,
    );
    ctx.check(
      'the API stayed ready (200) throughout: it does not need Postgres',
      apiSamples.length > 0 && (apiCounts['200'] ?? 0) === apiSamples.length,
      tallyText(apiCounts),
    );
    ctx.check(
      'GET /orders answered 503 while Postgres was away (no other error, no hang)',
      readsDuring.length > 0 && (readCounts['503'] ?? 0) === readsDuring.length,
      `${tallyText(readCounts)}, slowest ${readMaxMs.toFixed(0)} ms`,
    );
    ctx.check(
      'the workers reported not ready (503) while Postgres was away',
      workerDown.every((c) => (c['503'] ?? 0) > 0 && Object.keys(c).every((k) => k === '503')),
      workerDown.map((c, i) => `${workers[i]?.label}: ${tallyText(c)}`).join('; '),
    );
    ctx.check(
      'the workers paused and resumed by themselves (no restart), and were ready again after the outage',
      perWorker.every((w) => w.away > 0 && w.back > 0) && workersBack !== null && ctx.crashes.length === 0,
      perWorker.map((w) => `${w.label}: ${w.away} away / ${w.back} resumed`).join('; '),
    );
    const examples = ctx.watchExamples.get(POSTGRES_WATCHES.attemptUsed) ?? [];
    ctx.check(
      'no attempt used by the outage in the queues that need Postgres',
      attemptsUsed === 0,
      `${attemptsUsed} "job failed" lines; ${deferred} jobs put back without an attempt${examples.length ? `; e.g. ${examples.join(' | ').replaceAll(ctx.databaseName, '<db>')}` : ''}`,
    );
    await verifyCommon(ctx, { sender, pushes, orderIds: ids, supplier, baseUrl });
    await ctx.stopServicesGracefully();
  },
};
