// @ts-check
// Drain: a backlog of queued 1688 messages applied by the worker processes, batched, beside the
// bare HMAC server's pushes per second measured just before (the workers must keep up with the
// fastest any API could take pushes in on this machine) and beside the same worker applying one
// message per transaction (row by row); Postgres connections sampled from pg_stat_activity.
import { Queue } from 'bullmq';
import pg from 'pg';
import { ADMIN_DATABASE_URL, REDIS_URL, cleanup, isolated, measureBareCeiling, printTable, serviceEnv, startService } from './lib.mjs';

const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 100_000);
const ROW_BY_ROW_SAMPLE = Number(process.env.BENCH_ROW_SAMPLE ?? 5_000);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 2);

/** Messages per job, as the API publishes pushes that arrive together (PUBLISH_BATCH_MAX_MESSAGES allows up to 200). */
const MESSAGES_PER_JOB = Number(process.env.BENCH_MESSAGES_PER_JOB ?? 10);

/**
 * One queued message, the way the webhooks module queues it.
 *
 * @param {number} n
 */
function message(n) {
  const orderId = String(167539019400000000n + BigInt(n));
  const body = `{"msgId":${n},"type":"ORDER_BUYER_VIEW_ORDER_PAY","gmtBorn":${Date.now()},"data":{"orderId":${orderId},"currentStatus":"waitsellersend"}}`;
  return {
    source: '1688',
    messageId: String(n),
    topic: 'ORDER_BUYER_VIEW_ORDER_PAY',
    receivedAt: new Date().toISOString(),
    body,
    changes: [
      { orderId: null, supplierOrderId: orderId, status: 'waitsellersend', occurredAt: new Date().toISOString(), bornAt: Date.now() },
    ],
    ignoredReason: null,
    via: 'push',
  };
}

/**
 * A job of `perJob` messages from `first` on (order-events jobs carry the messages that arrived together).
 *
 * @param {number} first
 * @param {number} perJob
 */
function job(first, perJob) {
  return {
    name: 'apply-messages',
    data: { messages: Array.from({ length: perJob }, (_, k) => message(first + k)) },
    opts: {
      jobId: `batch-bench-${first}`,
      attempts: 8,
      backoff: { type: 'exponential', delay: 1_000 },
      removeOnComplete: { age: 600, count: 10_000 },
    },
  };
}

/**
 * @param {import('./lib.mjs').Names} names
 * @param {number} count messages
 * @param {number} base the first msgId
 * @param {number} perJob messages per job
 */
async function seed(names, count, base, perJob) {
  const queue = new Queue('order-events', { connection: { url: REDIS_URL }, prefix: names.queuePrefix });
  const jobs = [];
  for (let i = 0; i < count; i += perJob) jobs.push(job(base + i, Math.min(perJob, count - i)));
  for (let i = 0; i < jobs.length; i += 1_000) await queue.addBulk(jobs.slice(i, i + 1_000));
  await queue.close();
}

/**
 * @param {import('./lib.mjs').Names} names
 * @param {number} count
 * @param {{ BASE: string, perJob: number } & Record<string, string | number>} options
 * @param {number} [workerCount]
 */
async function drain(names, count, options, workerCount = 1) {
  const { perJob, ...extraEnv } = options;
  await seed(names, count, Number(extraEnv.BASE), perJob);
  const db = new pg.Pool({ connectionString: names.databaseUrl, max: 1 });
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  const appliedSoFar = async () =>
    (await db.query(`SELECT count(*)::int AS n FROM inbox_messages WHERE message_id::bigint >= $1`, [extraEnv.BASE])).rows[0].n;
  const workers = await Promise.all(
    Array.from({ length: workerCount }, () =>
      startService(serviceEnv(names, { ROLE: 'worker', ...Object.fromEntries(Object.entries(extraEnv).map(([k, v]) => [k, String(v)])) })),
    ),
  );
  // Timed from the moment every worker is up; what they applied while booting is left out.
  const started = Date.now();
  const appliedAtStart = await appliedSoFar();
  let maxConnections = 0;
  let applied = 0;
  try {
    while (applied < count) {
      const { rows } = await admin.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'ordersync'`,
        [names.databaseName],
      );
      maxConnections = Math.max(maxConnections, rows[0].n);
      applied = await appliedSoFar();
      if (Date.now() - started > 20 * 60_000) throw new Error(`drain stalled at ${applied}/${count}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const seconds = (Date.now() - started) / 1000;
    return { rate: (count - appliedAtStart) / seconds, seconds: count / ((count - appliedAtStart) / seconds), maxConnections };
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
    await db.end();
    await admin.end();
  }
}

export async function benchDrain() {
  const names = isolated('drain');
  // The schema exists before timing starts: a short-lived worker migrates it.
  await (await startService(serviceEnv(names, { ROLE: 'worker' }))).stop();
  try {
    const rowByRow = await drain(names, ROW_BY_ROW_SAMPLE, {
      APPLY_BATCH_SIZE: '1',
      APPLY_BATCH_WINDOW_MS: '0',
      BASE: '1000000000',
      perJob: 1,
    });
    const ceiling = await measureBareCeiling();
    const batched = await drain(names, BACKLOG, { BASE: '2000000000', perJob: MESSAGES_PER_JOB }, WORKERS);
    const seedDesign = 10 / 5; // the old cron: 10 messages per 5 s
    return printTable(
      `Drain (${BACKLOG.toLocaleString('en-US')} queued messages, ${MESSAGES_PER_JOB} per job, ${WORKERS} worker processes; baselines: the bare HMAC server's pushes/s, and one worker applying one message per job, row by row)`,
      [
        {
          measure: 'messages applied per second ÷ bare HMAC server pushes/s',
          value: batched.rate,
          unit: '/s',
          baseline: ceiling.rps,
          baselineUnit: '/s (bare HMAC server)',
          ratio: batched.rate / ceiling.rps,
          target: '≥ 1.0×',
        },
        {
          measure: 'messages applied per second, batched ÷ row by row',
          value: batched.rate,
          unit: '/s',
          baseline: rowByRow.rate,
          baselineUnit: '/s (row by row)',
          ratio: batched.rate / rowByRow.rate,
        },
        {
          measure: `time to drain ${BACKLOG.toLocaleString('en-US')}`,
          value: batched.seconds,
          unit: 's',
          baseline: BACKLOG / rowByRow.rate,
          baselineUnit: 's (row by row)',
          ratio: batched.seconds / (BACKLOG / rowByRow.rate),
        },
        { measure: 'same backlog at the seed design (10 msgs / 5 s)', value: BACKLOG / seedDesign / 3600, unit: 'h', target: '' },
        {
          measure: 'max Postgres connections of the service (pg_stat_activity)',
          value: batched.maxConnections,
          unit: '',
          baseline: rowByRow.maxConnections,
          ratio: batched.maxConnections / Math.max(1, rowByRow.maxConnections),
          target: '≤ 20',
        },
      ],
    );
  } finally {
    await cleanup(names);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchDrain();
