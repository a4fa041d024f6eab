// Drain: a backlog of queued 1688 messages applied by one worker process, batched, beside the
// same worker applying one message per transaction (row by row), and Postgres connections
// sampled from pg_stat_activity throughout.
import { Queue } from 'bullmq';
import pg from 'pg';
import { ADMIN_DATABASE_URL, REDIS_URL, cleanup, isolated, printTable, serviceEnv, startService } from './lib.mjs';

const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 100_000);
const ROW_BY_ROW_SAMPLE = Number(process.env.BENCH_ROW_SAMPLE ?? 5_000);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 2);

function job(i, base) {
  const orderId = String(167539019400000000n + BigInt(base + i));
  const body = `{"msgId":${base + i},"type":"ORDER_BUYER_VIEW_ORDER_PAY","gmtBorn":${Date.now()},"data":{"orderId":${orderId},"currentStatus":"waitsellersend"}}`;
  return {
    name: 'apply-message',
    data: {
      source: '1688',
      messageId: String(base + i),
      topic: 'ORDER_BUYER_VIEW_ORDER_PAY',
      receivedAt: new Date().toISOString(),
      body,
      changes: [{ orderId: null, supplierOrderId: orderId, status: 'waitsellersend', occurredAt: new Date().toISOString(), bornAt: Date.now() }],
      ignoredReason: null,
    },
    opts: { jobId: `1688-${base + i}`, attempts: 8, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: { age: 3600, count: 200_000 } },
  };
}

async function seed(names, count, base) {
  const queue = new Queue('order-events', { connection: { url: REDIS_URL }, prefix: names.queuePrefix });
  for (let i = 0; i < count; i += 5_000) {
    await queue.addBulk(Array.from({ length: Math.min(5_000, count - i) }, (_, k) => job(i + k, base)));
  }
  await queue.close();
}

async function drain(names, count, extraEnv, workerCount = 1) {
  await seed(names, count, extraEnv.BASE);
  const db = new pg.Pool({ connectionString: names.databaseUrl, max: 1 });
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  const appliedSoFar = async () => (await db.query(`SELECT count(*)::int AS n FROM inbox_messages WHERE message_id::bigint >= $1`, [extraEnv.BASE])).rows[0].n;
  const workers = await Promise.all(Array.from({ length: workerCount }, () => startService(serviceEnv(names, { ROLE: 'worker', ...extraEnv }))));
  // Timed from the moment every worker is up; what they applied while booting is left out.
  const started = Date.now();
  const appliedAtStart = await appliedSoFar();
  let maxConnections = 0;
  let applied = 0;
  try {
    while (applied < count) {
      const { rows } = await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'ordersync'`, [names.databaseName]);
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
    const rowByRow = await drain(names, ROW_BY_ROW_SAMPLE, { APPLY_BATCH_SIZE: '1', APPLY_BATCH_WINDOW_MS: '0', BASE: '1000000000' });
    const batched = await drain(names, BACKLOG, { BASE: '2000000000' }, WORKERS);
    const seedDesign = 10 / 5; // the old cron: 10 messages per 5 s
    return printTable(`Drain (${BACKLOG.toLocaleString('en-US')} queued messages, ${WORKERS} worker processes; baseline: one, row by row)`, [
      { measure: 'messages applied per second, batched', value: batched.rate, unit: '/s', baseline: rowByRow.rate, ratio: batched.rate / rowByRow.rate, target: '≥ 10,000/s' },
      { measure: `time to drain ${BACKLOG.toLocaleString('en-US')}`, value: batched.seconds, unit: 's', baseline: BACKLOG / rowByRow.rate, baselineUnit: 's (row by row)', ratio: batched.seconds / (BACKLOG / rowByRow.rate) },
      { measure: 'same backlog at the seed design (10 msgs / 5 s)', value: BACKLOG / seedDesign / 3600, unit: 'h', target: '' },
      { measure: 'max Postgres connections of the service (pg_stat_activity)', value: batched.maxConnections, unit: '', baseline: rowByRow.maxConnections, ratio: batched.maxConnections / Math.max(1, rowByRow.maxConnections), target: '≤ 20' },
    ]);
  } finally {
    await cleanup(names);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchDrain();
