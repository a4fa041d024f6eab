// @ts-check
// Waiting for the work to be done, and the checks every scenario shares: nothing acknowledged
// lost, nothing applied or sent twice, nothing failed or dead-lettered, no crash.
import { Redis } from 'ioredis';
import { API_KEY, WORK_QUEUES, fmt, httpJson, messageOf } from './common.mjs';
import { queueDepths } from './probes.mjs';

/**
 * @import { Context } from './context.mjs'
 * @import { PushSender, Pushes } from './load.mjs'
 * @import { SpawnedFakeSupplierApi as Supplier } from '../../tools/fake-supplier-api.mjs'
 */

/**
 * Waits until every acknowledged msgId is in inbox_messages; returns how long it took, or null
 * on timeout or as soon as the order-events queue has been idle (nothing waiting, active or
 * delayed) for a few seconds with messages still missing: then nothing is going to apply them.
 *
 * @param {Context} ctx
 * @param {Set<string>} acked
 * @param {number} timeoutMs
 * @param {() => string} baseUrl
 * @returns {Promise<number | null>}
 */
export async function waitApplied(ctx, acked, timeoutMs, baseUrl) {
  const ids = [...acked];
  const t0 = performance.now();
  let idle = 0;
  let missing = ids.length;
  const done = await ctx.waitFor(
    async () => {
      const { rows } = await ctx
        .db()
        .query(`SELECT count(*)::int AS n FROM inbox_messages WHERE source = '1688' AND message_id = ANY($1::text[])`, [ids]);
      missing = ids.length - rows[0].n;
      if (missing === 0) return true;
      const q = /** @type {import('./probes.mjs').QueueDepth} */ ((await queueDepths(baseUrl()))['order-events']);
      idle = q.waiting + q.active + q.delayed === 0 ? idle + 1 : 0;
      if (idle >= 6) return 'idle';
      return false;
    },
    { timeoutMs, intervalMs: 500 },
  );
  if (done === 'idle') ctx.log(`order-events is idle but ${fmt(missing)} acknowledged messages are not applied: giving up waiting`);
  else if (done === null) ctx.log(`${fmt(missing)} acknowledged messages still not applied after ${timeoutMs / 1000} s`);
  return done === true ? performance.now() - t0 : null;
}

/**
 * Waits until no order is PENDING or PROCESSING and the work queues are idle.
 *
 * @param {Context} ctx
 * @param {() => string} baseUrl
 * @param {string[]} orderIds
 * @param {number} timeoutMs
 * @returns {Promise<number | null>}
 */
export async function waitSettled(ctx, baseUrl, orderIds, timeoutMs) {
  const t0 = performance.now();
  const done = await ctx.waitFor(
    async () => {
      const { rows } = await ctx
        .db()
        .query(`SELECT count(*)::int AS n FROM orders WHERE id = ANY($1::text[]) AND status IN ('PENDING', 'PROCESSING')`, [orderIds]);
      if (rows[0].n > 0) return false;
      const q = await queueDepths(baseUrl());
      return WORK_QUEUES.every((name) => {
        const depth = q[name];
        return depth !== undefined && depth.waiting + depth.active + depth.delayed === 0;
      });
    },
    { timeoutMs, intervalMs: 500 },
  );
  return done ? performance.now() - t0 : null;
}

/**
 * Where the order-events jobs holding these msgIds are in Redis: state, attempts, stalls,
 * failure (jobs carry several messages each, under `batch-…` ids: found by their data).
 *
 * @param {Context} ctx
 * @param {string[]} msgIds
 * @returns {Promise<string>}
 */
export async function describeJobs(ctx, msgIds) {
  const redis = new Redis(ctx.redisUrl, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    /** @type {string[]} */
    const parts = [];
    for (const queue of ['order-events', 'order-events-dead']) {
      const q = `${ctx.queuePrefix}:${queue}`;
      /** @type {Map<string, string>} msgId -> job id */
      const found = new Map();
      let cursor = '0';
      let scanned = 0;
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${q}:batch-*`, 'COUNT', 1000);
        cursor = next;
        for (const key of keys) {
          const jobId = key.slice(q.length + 1);
          if (jobId.includes(':')) continue; // :lock, :logs
          scanned += 1;
          const data = (await redis.hget(key, 'data')) ?? '';
          for (const msgId of msgIds) if (!found.has(msgId) && data.includes(`"messageId":"${msgId}"`)) found.set(msgId, jobId);
        }
      } while (cursor !== '0' && scanned < 50_000 && found.size < msgIds.length);
      for (const [msgId, id] of found) {
        const job = await redis.hgetall(`${q}:${id}`);
        const lock = await redis.exists(`${q}:${id}:lock`);
        const state = [];
        if ((await redis.lpos(`${q}:wait`, id)) !== null) state.push('wait');
        if ((await redis.lpos(`${q}:active`, id)) !== null) state.push('active');
        if ((await redis.lpos(`${q}:paused`, id)) !== null) state.push('paused');
        if ((await redis.zscore(`${q}:delayed`, id)) !== null) state.push('delayed');
        if ((await redis.zscore(`${q}:prioritized`, id)) !== null) state.push('prioritized');
        if ((await redis.zscore(`${q}:completed`, id)) !== null) state.push('completed');
        if ((await redis.zscore(`${q}:failed`, id)) !== null) state.push('failed');
        if ((await redis.sismember(`${q}:stalled`, id)) === 1) state.push('in stalled set');
        const at = (/** @type {string | undefined} */ ms) => (ms ? new Date(Number(ms)).toISOString().slice(11, 23) : '-');
        parts.push(
          `${msgId}: ${queue} job ${id}, ${state.join('+') || 'in no list'}, lock ${lock ? 'held' : 'none'}, added ${at(job.timestamp)}, processedOn ${at(job.processedOn)}, finishedOn ${at(job.finishedOn)}, attemptsMade ${job.atm ?? job.attemptsMade ?? 0}, attemptsStarted ${job.ats ?? 0}, stalls ${job.stc ?? 0}${job.failedReason ? `, failedReason "${job.failedReason}"` : ''}${job.returnvalue ? `, returned ${job.returnvalue}` : ''}`,
        );
      }
      if (queue === 'order-events')
        for (const msgId of msgIds)
          if (!found.has(msgId)) parts.push(`${msgId}: in no order-events job left in Redis (${fmt(scanned)} jobs looked at)`);
    }
    return parts.join('; ');
  } catch (error) {
    return `(could not read Redis: ${messageOf(error)})`;
  } finally {
    redis.disconnect();
  }
}

/**
 * The dead letters and failed jobs of every queue, with their reasons.
 *
 * @param {Context} ctx
 * @param {() => string} baseUrl
 */
export async function failureCensus(ctx, baseUrl) {
  const q = await queueDepths(baseUrl());
  const names = Object.keys(q);
  const deadQueues = names.filter((name) => name.endsWith('-dead'));
  const workQueues = names.filter((name) => !name.endsWith('-dead'));
  const dead = deadQueues.map((name) => {
    const d = /** @type {import('./probes.mjs').QueueDepth} */ (q[name]);
    return { name, count: d.waiting + d.active + d.delayed + d.failed };
  });
  const failed = workQueues.map((name) => ({ name, count: /** @type {import('./probes.mjs').QueueDepth} */ (q[name]).failed }));
  const deadLettered = dead.reduce((sum, d) => sum + d.count, 0);
  const failedJobs = failed.reduce((sum, f) => sum + f.count, 0);
  let reasons = '';
  for (const { name, count } of dead) {
    if (count === 0) continue;
    // Distinct reasons (database names blanked) with their counts, from the first 1,000.
    const list = await httpJson('GET', `${baseUrl()}/queues/${name.replace(/-dead$/, '')}/dead-letters?limit=1000`, {
      key: API_KEY,
      timeoutMs: 15_000,
    }).catch((error) => ({ body: null, status: messageOf(error) }));
    /** @type {Map<string, number>} */
    const counts = new Map();
    for (const item of list.body?.items ?? []) {
      const reason = String(item.failedReason).replaceAll(ctx.databaseName, '<db>');
      counts.set(reason, (counts.get(reason) ?? 0) + 1);
    }
    reasons += `; ${name}: ${[...counts].map(([reason, n]) => `${n} × "${reason.slice(0, 300)}"`).join(', ') || `(listing answered ${list.status})`}`;
  }
  let failedReasons = '';
  if (failedJobs > 0) {
    const redis = new Redis(ctx.redisUrl, { maxRetriesPerRequest: 1, retryStrategy: () => null });
    redis.on('error', () => {});
    try {
      /** @type {Map<string, number>} */
      const counts = new Map();
      for (const { name, count } of failed) {
        if (count === 0) continue;
        const ids = await redis.zrange(`${ctx.queuePrefix}:${name}:failed`, 0, 999);
        for (const id of ids) {
          const reason = String((await redis.hget(`${ctx.queuePrefix}:${name}:${id}`, 'failedReason')) ?? '').replaceAll(
            ctx.databaseName,
            '<db>',
          );
          const key = `${name}: ${reason.slice(0, 300)}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
      }
      failedReasons = `; failed jobs by reason: ${[...counts].map(([reason, n]) => `${n} × "${reason}"`).join(', ')}`;
    } catch (error) {
      failedReasons = `; (could not read failed jobs: ${messageOf(error)})`;
    } finally {
      redis.disconnect();
    }
  }
  return {
    deadLettered,
    failedJobs,
    text: `${dead.map((d) => `${d.name} ${d.count}`).join(', ')}; failed: ${failed.map((f) => `${f.name} ${f.count}`).join(', ')}${reasons}${failedReasons}`,
  };
}

/**
 * The 1688 messages in inbox_messages (applied or recorded as ignored), and the history lines
 * that apply one message twice to one order (must be none).
 *
 * @param {Context} ctx
 */
export async function inboxState(ctx) {
  const db = ctx.db();
  const { rows: inboxRows } = await db.query(`SELECT message_id, outcome, reason FROM inbox_messages WHERE source = '1688'`);
  const inbox = new Set(inboxRows.map((r) => /** @type {string} */ (r.message_id)));
  /** @type {{ message_id: string, outcome: string, reason: string | null }[]} */
  const ignored = inboxRows.filter((r) => r.outcome !== 'applied');
  const { rows: dupRows } = await db.query(
    `SELECT count(*)::int AS n FROM (SELECT 1 FROM order_history WHERE kind = 'supplier_message' GROUP BY order_id, source, message_id HAVING count(*) > 1) d`,
  );
  return { inbox, ignored, duplicateApplications: /** @type {number} */ (dupRows[0].n) };
}

/**
 * The checks on messages every scenario makes: acknowledged pushes applied (lost = 2xx but not
 * applied), none of them recorded as ignored, the sender gave up on none, no message applied twice.
 *
 * @param {Context} ctx
 * @param {{ sender: PushSender }} options
 */
export async function verifyPushes(ctx, { sender }) {
  const { inbox, ignored, duplicateApplications } = await inboxState(ctx);
  const acked = [...sender.acked];
  const lostIds = acked.filter((id) => !inbox.has(id));
  ctx.figure('messages sent (distinct msgIds)', sender.sentIds.size);
  ctx.figure('deliveries / HTTP requests (with re-sends)', `${fmt(sender.deliveries)} / ${fmt(sender.requests)}`);
  ctx.figure('messages acknowledged (2xx)', acked.length);
  ctx.figure('acknowledged messages applied', acked.length - lostIds.length);
  ctx.figure('**lost** (2xx, never applied)', lostIds.length);
  ctx.figure('never acknowledged (sender gave up)', sender.failed.length + sender.abandoned);
  ctx.figure('messages applied in total (inbox rows)', inbox.size);
  ctx.figure('messages recorded as ignored', ignored.length);
  ctx.figure('messages applied twice', duplicateApplications);
  ctx.figure('answers seen by the sender', sender.responsesText());
  if (lostIds.length > 0) {
    const where = await describeJobs(ctx, lostIds.slice(0, 5));
    ctx.figure('where the lost messages are (BullMQ job state)', where);
    ctx.log(`lost messages in Redis: ${where}`);
  }
  ctx.check(
    'every push answered 2xx is in inbox_messages (lost = 0)',
    lostIds.length === 0,
    `${fmt(acked.length - lostIds.length)}/${fmt(acked.length)} applied${lostIds.length ? `; missing e.g. ${lostIds.slice(0, 5).join(', ')}` : ''}`,
  );
  checkNoneIgnored(ctx, ignored);
  ctx.check(
    'the sender gave up on no push (every push was eventually answered 2xx)',
    sender.failed.length + sender.abandoned === 0,
    sender.failed.length ? `e.g. ${JSON.stringify(sender.failed.slice(0, 3))}` : `${fmt(sender.retries)} re-sends`,
  );
  checkNoneAppliedTwice(ctx, duplicateApplications);
  return { inbox, lost: lostIds.length };
}

/**
 * @param {Context} ctx
 * @param {{ message_id: string, reason: string | null }[]} ignored inbox rows recorded as ignored
 */
export function checkNoneIgnored(ctx, ignored) {
  ctx.check(
    'no push recorded as ignored (every one of them can be applied)',
    ignored.length === 0,
    ignored.length
      ? `${ignored.length} ignored, e.g. ${ignored
          .slice(0, 2)
          .map((r) => `${r.message_id}: ${String(r.reason).replaceAll(ctx.databaseName, '<db>').slice(0, 200)}`)
          .join('; ')}`
      : '',
  );
}

/**
 * @param {Context} ctx
 * @param {number} duplicateApplications
 */
export function checkNoneAppliedTwice(ctx, duplicateApplications) {
  ctx.check(
    'no message applied twice (one supplier_message history line per order and msgId)',
    duplicateApplications === 0,
    `${duplicateApplications} duplicated`,
  );
}

/**
 * Every supplier order shows the newest applied 1688 status of the pushes (msgSendTime, then gmtBorn).
 *
 * @param {Context} ctx
 * @param {{ pushes: Pushes, inbox: Set<string> }} options
 */
export async function verifyNewestStatuses(ctx, { pushes, inbox }) {
  /** @type {Map<string, import('./load.mjs').Delivery>} */
  const newest = new Map();
  for (const d of pushes.deliveries) {
    if (!inbox.has(d.msgId)) continue;
    const best = newest.get(d.orderId);
    if (!best || d.eventTime > best.eventTime || (d.eventTime === best.eventTime && d.gmtBorn > best.gmtBorn)) newest.set(d.orderId, d);
  }
  const { rows: statusRows } = await ctx
    .db()
    .query(`SELECT supplier_order_id, supplier_status FROM orders WHERE supplier_order_id = ANY($1::text[])`, [[...newest.keys()]]);
  const actual = new Map(statusRows.map((r) => [r.supplier_order_id, r.supplier_status]));
  const wrong = [...newest.entries()].filter(([id, d]) => actual.get(id) !== d.status);
  ctx.check(
    'every supplier order shows the status of its newest applied message (no older message overwrote a newer one)',
    wrong.length === 0,
    `${fmt(newest.size - wrong.length)}/${fmt(newest.size)} supplier orders${
      wrong.length
        ? `; e.g. ${wrong
            .slice(0, 3)
            .map(([id, d]) => `${id}: ${actual.get(id) ?? 'no order'} ≠ ${d.status}`)
            .join(', ')}`
        : ''
    }`,
  );
}

/**
 * Our orders COMPLETED with exactly one side effect each at the fake supplier, nothing
 * PROCESSING, never two calls in flight for one order, the supplier's rate limit kept.
 *
 * @param {Context} ctx
 * @param {{ orderIds: string[], supplier: Supplier, rateLimit?: number }} options
 *   rateLimit: the service's EXTERNAL_API_RATE_LIMIT (default 200, dispatchEnv's)
 */
export async function verifyOrders(ctx, { orderIds, supplier, rateLimit = 200 }) {
  if (orderIds.length === 0) return;
  const db = ctx.db();
  const { rows } = await db.query(`SELECT status, count(*)::int AS n FROM orders WHERE id = ANY($1::text[]) GROUP BY status`, [orderIds]);
  /** @type {Record<string, number>} */
  const byStatus = Object.fromEntries(rows.map((r) => [r.status, r.n]));
  const stats = await supplier.stats({ keys: true });
  const perKey = stats.perKey ?? {};
  const ours = new Set(orderIds);
  const notOnce = orderIds.filter((id) => (perKey[id]?.sideEffects ?? 0) !== 1);
  const foreignKeys = Object.keys(perKey).filter((k) => !ours.has(k));
  const concurrent = orderIds.filter((id) => (perKey[id]?.maxConcurrent ?? 0) > 1);
  const { rows: processing } = await db.query(`SELECT count(*)::int AS n FROM orders WHERE status = 'PROCESSING'`);
  const { rows: external } = await db.query(`SELECT count(*)::int AS n FROM orders WHERE status = 'EXTERNAL'`);
  const { rows: failedRows } = await db.query(
    `SELECT id, last_error FROM orders WHERE id = ANY($1::text[]) AND status = 'FAILED' LIMIT 3`,
    [orderIds],
  );
  ctx.figure('orders created', orderIds.length);
  ctx.figure(
    'orders by status',
    Object.entries(byStatus)
      .map(([k, v]) => `${k} ${fmt(v)}`)
      .join(', '),
  );
  ctx.figure('side effects at the supplier (calls)', `${fmt(stats.sideEffects)} (${fmt(stats.calls)})`);
  ctx.figure('**duplicate side effects**', stats.duplicateSideEffects);
  ctx.figure('EXTERNAL orders (1688 messages for unlinked supplier orders)', external[0].n);
  ctx.check(
    'every order ended COMPLETED (none FAILED)',
    (byStatus.COMPLETED ?? 0) === orderIds.length,
    `${Object.entries(byStatus)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}${failedRows.length ? `; e.g. ${failedRows.map((r) => `${r.id}: ${r.last_error}`).join('; ')}` : ''}`,
  );
  ctx.check('nothing left PROCESSING', processing[0].n === 0, `${processing[0].n} PROCESSING`);
  ctx.check(
    'exactly one side effect per order at the supplier, duplicateSideEffects = 0',
    notOnce.length === 0 && stats.duplicateSideEffects === 0 && foreignKeys.length === 0,
    `${fmt(stats.sideEffects)} side effects for ${fmt(orderIds.length)} orders, duplicateSideEffects ${stats.duplicateSideEffects}${
      notOnce.length
        ? `; not once: ${notOnce
            .slice(0, 5)
            .map((id) => `${id}=${perKey[id]?.sideEffects ?? 0}`)
            .join(', ')}`
        : ''
    }${foreignKeys.length ? `; unknown keys ${foreignKeys.slice(0, 3).join(', ')}` : ''}`,
  );
  ctx.check(
    'never two calls in flight for one order',
    concurrent.length === 0,
    concurrent.length ? `e.g. ${concurrent.slice(0, 5).join(', ')}` : '',
  );
  ctx.figure(
    'most calls the supplier saw in a sliding second (EXTERNAL_API_RATE_LIMIT)',
    `${fmt(stats.maxCallsPerSecond)} (${fmt(rateLimit)})`,
  );
  ctx.check(
    `never more than EXTERNAL_API_RATE_LIMIT (${fmt(rateLimit)}) calls in any second at the supplier`,
    stats.maxCallsPerSecond <= rateLimit,
    `most in a sliding second: ${fmt(stats.maxCallsPerSecond)}`,
  );
}

/**
 * Dead letters in every dead-letter queue, failed jobs in every work queue: none of either.
 *
 * @param {Context} ctx
 * @param {() => string} baseUrl
 */
export async function verifyQueues(ctx, baseUrl) {
  const census = await failureCensus(ctx, baseUrl);
  ctx.figure('dead-lettered / failed jobs', `${census.deadLettered} / ${census.failedJobs}`);
  ctx.check(
    'nothing dead-lettered (every `-dead` queue empty), no failed job in any queue',
    census.deadLettered === 0 && census.failedJobs === 0,
    census.text,
  );
}

/**
 * The checks every scenario makes: acknowledged pushes applied (lost = 2xx but not applied),
 * none of them recorded as ignored, no message applied twice, the right 1688 status on every
 * supplier order, our orders COMPLETED with exactly one side effect each at the supplier,
 * nothing PROCESSING, nothing failed or dead-lettered in any queue.
 *
 * @param {Context} ctx
 * @param {{ sender: PushSender, pushes: Pushes, orderIds: string[], supplier: Supplier, baseUrl: () => string, rateLimit?: number }} options
 *   rateLimit: the service's EXTERNAL_API_RATE_LIMIT (default 200, dispatchEnv's)
 */
export async function verifyCommon(ctx, { sender, pushes, orderIds, supplier, baseUrl, rateLimit = 200 }) {
  const { inbox, lost } = await verifyPushes(ctx, { sender });
  await verifyNewestStatuses(ctx, { pushes, inbox });
  await verifyOrders(ctx, { orderIds, supplier, rateLimit });
  await verifyQueues(ctx, baseUrl);
  return { lost, inbox };
}

/**
 * Records process crashes (exits the suite did not cause) as a failed check.
 *
 * @param {Context} ctx
 */
export function checkNoCrash(ctx) {
  ctx.figure('service processes that exited on their own (restarted)', ctx.crashes.length);
  ctx.check('no service process exited on its own', ctx.crashes.length === 0, ctx.crashes.join('; '));
}
