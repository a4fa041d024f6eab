// @ts-check
// Scenario 8: 1688 gives up. The service's webhook refuses every push (a TCP gate in front of the
// API stops listening: connections refused) for longer than 1688's three re-sends, while statuses
// keep changing at 1688: the push simulator plays new order lifecycles and gives up on each push
// after its 3 re-sends (1, 2, 4 s apart), handing the message to the fake 1688 Open API's store;
// and some statuses change at 1688 with no push at all (refunds, a seller closing an order). The
// pull (push.query.messageList + push.message.confirm, PUSH_PULL_CRON every 3 s) and the sweep
// (alibaba.trade.getBuyerOrderList by modification window, RECONCILE_CRON every 5 s) run on
// their real schedules against the fake (ALIBABA_API_URL, ALIBABA_SYNC_ENABLED=true), with its
// occasional gw.Qos answers. It must end with every order at the fake 1688 in step with ours
// (every order's status compared), every message 1688 kept pulled, applied and confirmed once,
// nothing applied twice, no dead letters, the 1688 rate limit kept. Before the outage 1688
// pushes normally and our own orders are created and dispatched, as in the other scenarios.
import { changeOrderStatuses, planPushes, runSimulator, silentChangesFor } from '../tools/simulator-1688.mjs';
import { alibabaSyncEnv } from '../tools/lib/harness-secrets.mjs';
import {
  APP_SECRET,
  SUPPLIER_OPTIONS,
  checkNoneAppliedTwice,
  checkNoneIgnored,
  createOrders,
  dispatchEnv,
  fmt,
  inboxState,
  orderIds,
  queueDepths,
  seconds,
  startFleet,
  tallyText,
  verifyOrders,
  verifyQueues,
  waitSettled,
} from './lib.mjs';

/**
 * @import { Context } from './lib.mjs'
 * @import { SimulatorOptions, SimulatorReport } from '../tools/simulator-1688.mjs'
 */

const SETTINGS = {
  short: {
    orders: 120,
    pushedOrders: 150,
    outageOrders: 150,
    pushRate: 150,
    outageRate: 60,
    silentBefore: 30,
    holdMs: 5_000,
    convergeMs: 90_000,
  },
  full: {
    orders: 600,
    pushedOrders: 800,
    outageOrders: 800,
    pushRate: 200,
    outageRate: 60,
    silentBefore: 150,
    holdMs: 30_000,
    convergeMs: 240_000,
  },
};

/** The service's 1688 call budget (fleet-wide) and schedules: every few seconds instead of every minute / ten minutes. */
const ALIBABA_API_RATE_LIMIT = 20;
const PUSH_PULL_CRON = '*/3 * * * * *';
const RECONCILE_CRON = '*/5 * * * * *';
/** 1688's own re-sends: 3, after 1, 2 and 4 s (real 1688 re-sends about 3 times, then keeps the message for pulling). */
const RESENDS = 3;
const RESEND_BASE_MS = 1_000;
/** Status changes of the simulated lifecycles fall in the minute before each run (as when 1688 pushes what just happened). */
const TIMELINE = { orderSpreadSec: 30, stepGapMaxSec: 8 };
/** Share of the outage's orders whose status changes once more at 1688 after their pushes, with no push. */
const SILENT_RATE = 0.15;

/**
 * Orders at the fake 1688 whose status differs from ours (or that we do not have, or have twice).
 *
 * @param {Context} ctx
 * @param {{ admin: (method: string, path: string, body?: unknown) => Promise<any> }} fake
 */
async function outOfStep(ctx, fake) {
  /** @type {{ total: number, orders: { id: string, status: string }[] }} */
  const theirs = await fake.admin('GET', '/_admin/orders?limit=10000000');
  const { rows } = await ctx
    .db()
    .query(`SELECT id, status, supplier_order_id, supplier_status FROM orders WHERE supplier_order_id IS NOT NULL`);
  /** @type {Map<string, { id: string, status: string, supplier_status: string | null }[]>} */
  const ours = new Map();
  for (const row of rows) ours.set(row.supplier_order_id, [...(ours.get(row.supplier_order_id) ?? []), row]);
  /** @type {string[]} */
  const wrong = [];
  for (const order of theirs.orders) {
    const here = ours.get(order.id) ?? [];
    if (here.length === 1 && here[0]?.supplier_status === order.status) continue;
    wrong.push(
      `${order.id}: 1688 ${order.status}, ours ${here.map((r) => `${r.id} ${r.status} ${r.supplier_status}`).join(' + ') || 'none'}`,
    );
  }
  return { total: theirs.orders.length, wrong };
}

/**
 * The msgIds of a simulator run (its plan again, from the seed, start time and msgId base it reported).
 *
 * @param {SimulatorOptions} options
 * @param {SimulatorReport} report
 */
function plannedMsgIds(options, report) {
  const plan = planPushes({ ...options, seed: report.seed, startTime: report.startTime, msgIdBase: report.msgIdBase });
  return [...new Set(plan.deliveries.map((d) => String(d.msgId)))];
}

/** @type {import('./lib.mjs').Scenario} */
export default {
  id: '1688-gives-up',
  title: '1688 gives up pushing (webhook refused past its 3 re-sends) and changes statuses without a push: pull and sweep repair',
  deadlineMs: (short) => (short ? 180_000 : 480_000),
  estimateMs: (short) => (short ? 60_000 : 200_000),
  async run(ctx) {
    const s = ctx.short ? SETTINGS.short : SETTINGS.full;
    ctx.watchLog('1688 calls retried (gw.Qos, 5xx, no answer)', /"msg":"1688 call failed; retrying"/);
    ctx.watchLog('pull runs that found messages', /"msg":"pulled messages 1688 had not delivered"/);
    ctx.watchLog('sweeps that queued repairs', /"msg":"orders out of step with 1688; repairs queued"/);
    ctx.watchLog(
      'pull or sweep runs failed',
      /^(?=.*"context":"(?:PullProcessor|SweepProcessor)")(?=.*"level":"(?:warn|error)")(?=.*"msg":"job failed)/,
    );

    const supplier = await ctx.startFakeSupplier(SUPPLIER_OPTIONS);
    // A few gw.Qos answers (refused before the API runs: nothing confirmed by them) and a little latency.
    const fake = await ctx.startFake1688({ seed: 1688, qos: 0.03, latencyMs: 5, latencyJitterMs: 3 });
    const env = dispatchEnv(supplier, {
      ...alibabaSyncEnv(fake.url),
      ALIBABA_API_RATE_LIMIT: String(ALIBABA_API_RATE_LIMIT),
      PUSH_PULL_CRON,
      RECONCILE_CRON,
    });
    const { api } = await startFleet(ctx, env, { workers: 2 });
    const baseUrl = () => api.baseUrl;
    const gate = await ctx.startGate(/** @type {number} */ (api.port), 'webhook gate');
    const webhook = `http://127.0.0.1:${gate.port}`;
    ctx.did(
      `the fake 1688 Open API on port ${fake.port} (3% gw.Qos answers); the service pulls (PUSH_PULL_CRON ${PUSH_PULL_CRON}) and sweeps (RECONCILE_CRON ${RECONCILE_CRON}) against it at ALIBABA_API_RATE_LIMIT ${ALIBABA_API_RATE_LIMIT}/s; 1688 pushes through a TCP gate (port ${gate.port}) in front of the API`,
    );

    // 1. Our orders, dispatched to the fake supplier, which hands out the supplier order ids 1688 pushes for.
    const ids = orderIds('G', s.orders);
    const created = await createOrders(ctx, { baseUrl, ids, batchSize: 50 });
    const settled = await waitSettled(ctx, baseUrl, ids, 60_000);
    const idBase = BigInt((await supplier.config()).idBase);
    ctx.did(
      `${fmt(created.created)} orders created and ${settled === null ? 'NOT all' : 'all'} dispatched (${created.retries} batch re-sends); their supplier order ids are ${idBase + 1n}…`,
    );

    // 2. 1688 pushes normally: lifecycles of supplier orders 1..pushedOrders (ours among them), each registered at 1688 first.
    /** @type {SimulatorOptions} */
    const pushedOptions = {
      target: webhook,
      appSecret: APP_SECRET,
      count: s.pushedOrders,
      idBase: String(idBase),
      openApi: fake.baseUrl,
      seed: 81,
      ...TIMELINE,
      duplicateRate: 0.05,
      reorderRate: 0.05,
      rate: s.pushRate,
      retries: RESENDS,
      retryBaseMs: RESEND_BASE_MS,
      signal: ctx.signal,
    };
    const pushed = await runSimulator(pushedOptions);
    ctx.did(
      `1688 pushed ${fmt(pushed.sent)} deliveries (${fmt(pushed.messages)} messages, ${fmt(pushed.duplicatesSent)} duplicates, ${fmt(pushed.reordered)} reordered) for ${fmt(pushed.orders)} orders: ${fmt(pushed.acknowledged)} acknowledged, ${fmt(pushed.failed)} given up`,
    );

    // 3. The webhook refuses; 1688 goes on: new lifecycles whose pushes it gives up on, and changes it never pushes.
    await gate.closeGate();
    const downAt = performance.now();
    ctx.log('webhook gate closed: every push is refused');
    /** @type {SimulatorOptions} */
    const refusedOptions = {
      ...pushedOptions,
      count: s.outageOrders,
      idBase: String(idBase + BigInt(s.pushedOrders)),
      seed: 82,
      msgIdBase: pushed.msgIdBase + 1_000_000,
      rate: s.outageRate,
      silentChangeRate: SILENT_RATE,
    };
    const refusing = runSimulator(refusedOptions);
    // Meanwhile refunds and closes at 1688 for orders pushed before: no push, no message kept.
    const silentBefore = silentChangesFor(pushed.finalStatusAt1688, s.silentBefore).map(({ orderId, status }) => ({ orderId, status }));
    await ctx.sleep(2_000);
    const changedBefore = await changeOrderStatuses(fake.baseUrl, silentBefore);
    const refused = await refusing;
    const givenUpAt = performance.now();
    const silent = [
      ...changedBefore,
      ...refused.silentChanges.map((c) => ({ orderId: c.orderId, status: c.status, modifyTime: c.modifyTime })),
    ];
    ctx.did(
      `the webhook refused every push for the outage: 1688 sent ${fmt(refused.sent)} deliveries (${fmt(refused.messages)} messages of ${fmt(refused.orders)} new orders), re-sent each ${RESENDS} times (${fmt(refused.retried)} re-sends) and gave up on ${fmt(refused.failed)}, keeping ${fmt(refused.handedToStore)} messages for pulling (answers: ${tallyText(refused.responses)}); meanwhile ${fmt(silent.length)} statuses changed at 1688 with no push (${fmt(changedBefore.length)} orders pushed before, ${fmt(refused.silentChanges.length)} of the new ones)`,
    );
    await ctx.sleep(s.holdMs);
    const beforeReopen = await outOfStep(ctx, fake);
    await gate.openGate();
    const upAt = performance.now();
    ctx.log(
      `webhook gate open again after ${seconds(upAt - downAt)}; ${fmt(beforeReopen.wrong.length)} of ${fmt(beforeReopen.total)} orders out of step`,
    );

    // 4. Until every order at 1688 is in step with ours, nothing is waiting at 1688 and order-events is idle.
    /** @type {{ total: number, wrong: string[] }} */
    let last = { total: 0, wrong: [] };
    const converged = await ctx.waitFor(
      async () => {
        last = await outOfStep(ctx, fake);
        if (last.wrong.length > 0) return false;
        const stats = await fake.admin('GET', '/_admin/stats');
        if (stats.messages.pending > 0) return false;
        const q = (await queueDepths(baseUrl()))['order-events'];
        return q !== undefined && q.waiting + q.active + q.delayed === 0;
      },
      { timeoutMs: s.convergeMs, intervalMs: 500 },
    );
    const convergedAt = performance.now();
    ctx.did(
      converged
        ? `every order at 1688 in step with ours ${seconds(convergedAt - givenUpAt)} after 1688 gave up on the last push (${seconds(convergedAt - upAt)} after the webhook came back)`
        : `orders still out of step after ${seconds(s.convergeMs)}: ${fmt(last.wrong.length)} of ${fmt(last.total)}`,
    );

    // 5. What happened, and the checks.
    const db = ctx.db();
    const pushedIds = plannedMsgIds(pushedOptions, pushed);
    const refusedIds = plannedMsgIds(refusedOptions, refused);
    const { inbox, ignored, duplicateApplications } = await inboxState(ctx);
    const { rows: ignoredRepairs } = await db.query(
      `SELECT message_id, reason FROM inbox_messages WHERE source = '1688-reconcile' AND outcome <> 'applied' LIMIT 5`,
    );
    const { rows: runRows } = await db.query(
      `SELECT kind, count(*)::int AS runs, count(*) FILTER (WHERE outcome = 'ok')::int AS ok, count(*) FILTER (WHERE outcome = 'failed')::int AS failed,
              count(*) FILTER (WHERE trigger = 'schedule')::int AS scheduled,
              coalesce(sum((counts->>'pulled')::int), 0)::int AS pulled, coalesce(sum((counts->>'confirmed')::int), 0)::int AS confirmed,
              coalesce(sum((counts->>'pages')::int), 0)::int AS pages, coalesce(sum((counts->>'drifted')::int), 0)::int AS drifted,
              coalesce(sum((counts->>'unknown')::int), 0)::int AS unknown, array_agg(DISTINCT error) FILTER (WHERE error IS NOT NULL) AS errors
       FROM sync_runs GROUP BY kind`,
    );
    const runs = Object.fromEntries(runRows.map((r) => [r.kind, r]));
    const pull = runs.pull ?? { runs: 0, ok: 0, failed: 0, scheduled: 0, pulled: 0, confirmed: 0, pages: 0, errors: null };
    const sweep = runs.sweep ?? { runs: 0, ok: 0, failed: 0, scheduled: 0, pages: 0, drifted: 0, unknown: 0, errors: null };
    const { rows: repairRows } = await db.query(
      `SELECT split_part(message_id, '-', 1) AS supplier_order_id, supplier_status FROM order_history
       WHERE kind = 'supplier_message' AND source = '1688-reconcile' AND outcome = 'applied'`,
    );
    const repaired = new Set(repairRows.map((r) => `${r.supplier_order_id} ${r.supplier_status}`));
    const repairedOrders = new Set(repairRows.map((r) => r.supplier_order_id)).size;
    /** @type {{ messages: { msgId: string, confirmed: boolean, confirms: number }[] }} */
    const { messages: kept } = await fake.admin('GET', '/_admin/messages');
    /** @type {{ confirms: Record<string, number> }} */
    const { confirms } = await fake.admin('GET', '/_admin/confirms');
    const stats = await fake.admin('GET', '/_admin/stats');
    const notConfirmedOnce = kept.filter((m) => !m.confirmed || m.confirms !== 1);
    const confirmedUnknown = Object.keys(confirms).filter((id) => !kept.some((m) => m.msgId === id));
    const keptApplied = kept.filter((m) => inbox.has(m.msgId)).length;
    const missing = [...pushedIds, ...refusedIds].filter((id) => !inbox.has(id));
    // Every message of the first run was acknowledged (checked below): one of them missing is lost.
    const missingPushed = pushedIds.filter((id) => !inbox.has(id));
    const silentMissed = silent.filter((c) => !repaired.has(`${c.orderId} ${c.status}`));

    ctx.figure('messages sent (distinct msgIds)', pushedIds.length + refusedIds.length);
    ctx.figure('messages acknowledged (2xx)', pushed.acknowledgedMessages);
    ctx.figure('acknowledged messages applied', pushed.acknowledgedMessages - missingPushed.length);
    ctx.figure('**lost** (2xx, never applied)', missingPushed.length);
    ctx.figure('webhook refused (gate closed)', seconds(upAt - downAt));
    ctx.figure('pushes 1688 gave up on after its 3 re-sends (deliveries / re-sends)', `${fmt(refused.failed)} / ${fmt(refused.retried)}`);
    ctx.figure(
      'messages 1688 kept for pulling / applied / confirmed exactly once',
      `${fmt(kept.length)} / ${fmt(keptApplied)} / ${fmt(kept.length - notConfirmedOnce.length)}`,
    );
    ctx.figure('statuses changed at 1688 with no push', silent.length);
    ctx.figure(
      'orders at 1688 / out of step when the webhook came back / at the end',
      `${fmt(last.total)} / ${fmt(beforeReopen.wrong.length)} / ${fmt(last.wrong.length)}`,
    );
    ctx.figure('**time to converge** after 1688 gave up on its last push', converged ? seconds(convergedAt - givenUpAt) : 'never');
    ctx.figure('time to converge after the webhook came back', converged ? seconds(Math.max(0, convergedAt - upAt)) : 'never');
    ctx.figure('pull runs: scheduled / ok / failed; pages', `${pull.scheduled} / ${pull.ok} / ${pull.failed}; ${fmt(pull.pages)}`);
    ctx.figure('**messages pulled** / confirmed (sum over pull runs)', `${fmt(pull.pulled)} / ${fmt(pull.confirmed)}`);
    ctx.figure('sweep runs: scheduled / ok / failed; pages', `${sweep.scheduled} / ${sweep.ok} / ${sweep.failed}; ${fmt(sweep.pages)}`);
    ctx.figure('repairs queued by sweeps: drifted / unknown orders (sum over runs)', `${fmt(sweep.drifted)} / ${fmt(sweep.unknown)}`);
    ctx.figure('**orders repaired by the sweep** (an applied 1688-reconcile status)', repairedOrders);
    ctx.figure('1688 API calls by API', tallyText(stats.callsByApi));
    ctx.figure('gw.Qos answers injected by the fake', stats.outcomes['injected:qos'] ?? 0);
    ctx.figure(
      'most 1688 calls in a sliding second (ALIBABA_API_RATE_LIMIT)',
      `${fmt(stats.maxCallsPerSecond)} (${ALIBABA_API_RATE_LIMIT})`,
    );
    ctx.figure('messages applied in total (inbox rows)', inbox.size);
    ctx.figure('messages applied twice', duplicateApplications);

    ctx.check(
      'the pushes before the outage were acknowledged (1688 gave up on none of them)',
      pushed.failed === 0 && pushed.acknowledgedMessages === pushedIds.length,
      `${fmt(pushed.acknowledgedMessages)}/${fmt(pushedIds.length)} messages acknowledged; answers ${tallyText(pushed.responses)}`,
    );
    ctx.check(
      'the outage outlasted 1688: every push during it was refused and given up after 3 re-sends, and kept for pulling',
      refused.acknowledged === 0 && refused.failed === refused.sent && refused.sent > 0 && refused.handedToStore === refusedIds.length,
      `${fmt(refused.failed)}/${fmt(refused.sent)} deliveries given up, ${fmt(refused.retried)} re-sends, ${fmt(refused.handedToStore)}/${fmt(refusedIds.length)} messages kept; answers ${tallyText(refused.responses)}`,
    );
    ctx.check(
      '**zero orders out of step**: every order at the fake 1688 has its status here (every order compared)',
      converged !== null && last.wrong.length === 0,
      `${fmt(last.total - last.wrong.length)}/${fmt(last.total)} in step${last.wrong.length ? `; e.g. ${last.wrong.slice(0, 3).join('; ')}` : ''}`,
    );
    ctx.check(
      'every status message 1688 produced is applied: pushed (2xx) or pulled after it gave up (lost = 0)',
      missing.length === 0,
      `${fmt(pushedIds.length + refusedIds.length - missing.length)}/${fmt(pushedIds.length + refusedIds.length)} in inbox_messages${missing.length ? `; missing e.g. ${missing.slice(0, 5).join(', ')}` : ''}`,
    );
    ctx.check(
      'every message 1688 kept was pulled and confirmed exactly once (none left waiting, none confirmed twice)',
      kept.length === refusedIds.length && notConfirmedOnce.length === 0 && confirmedUnknown.length === 0 && stats.messages.pending === 0,
      `${fmt(kept.length - notConfirmedOnce.length)}/${fmt(kept.length)} confirmed once, ${fmt(stats.messages.pending)} pending, ${fmt(stats.messages.confirmedMoreThanOnce)} confirmed more than once, ${fmt(confirmedUnknown.length)} unknown ids confirmed${
        notConfirmedOnce.length
          ? `; e.g. ${notConfirmedOnce
              .slice(0, 3)
              .map((m) => `${m.msgId}: ${m.confirmed ? `${m.confirms} confirms` : 'not confirmed'}`)
              .join(', ')}`
          : ''
      }`,
    );
    ctx.check(
      'every status changed at 1688 without a push was repaired by the sweep (a 1688-reconcile status applied)',
      silent.length > 0 && silentMissed.length === 0,
      `${fmt(silent.length - silentMissed.length)}/${fmt(silent.length)} repaired${
        silentMissed.length
          ? `; e.g. ${silentMissed
              .slice(0, 3)
              .map((c) => `${c.orderId} → ${c.status}`)
              .join(', ')}`
          : ''
      }`,
    );
    checkNoneIgnored(ctx, [...ignored, ...ignoredRepairs]);
    checkNoneAppliedTwice(ctx, duplicateApplications);
    ctx.check(
      'the pull and the sweep ran on their schedules, and no run failed',
      pull.scheduled > 0 && sweep.scheduled > 0 && pull.failed === 0 && sweep.failed === 0,
      `pull ${pull.ok}/${pull.runs} ok, sweep ${sweep.ok}/${sweep.runs} ok${pull.errors || sweep.errors ? `; errors: ${[...(pull.errors ?? []), ...(sweep.errors ?? [])].slice(0, 3).join('; ')}` : ''}`,
    );
    ctx.check(
      `never more than ALIBABA_API_RATE_LIMIT (${ALIBABA_API_RATE_LIMIT}) calls in any second at 1688, fleet-wide`,
      stats.maxCallsPerSecond <= ALIBABA_API_RATE_LIMIT,
      `most in a sliding second: ${fmt(stats.maxCallsPerSecond)}`,
    );
    await verifyOrders(ctx, { orderIds: ids, supplier });
    await verifyQueues(ctx, baseUrl);
    await ctx.stopServicesGracefully();
  },
};
