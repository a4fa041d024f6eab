// @ts-check
// Apply SQL profiled: every statement of ONE batch of 1,000 messages through the real compiled
// applier (dist/orders/order-message-applier.js with the repositories of dist/orders/repositories
// over a TypeORM DataSource made from the service's own dataSourceOptions, pool of 1), each with
// its EXPLAIN ANALYZE, planning time, buffers, WAL, triggers and the server's parse/bind/execute
// times; then a second, different batch of 1,000 on the same connection (warm). Beside it, in the
// same run and on identical copies of the same database, uninstrumented and timed:
//   - today: the compiled applier as it is;
//   - anti-join: with insertPlaceholders' `p.supplier_order_id IS NULL OR NOT EXISTS (…)` written as
//     a plain NOT EXISTS (the same rows for every input);
//   - anti-join+cte: that, and the supplier-status UPDATE and the history INSERT sent as one
//     statement (a writable CTE): one round trip fewer;
//   - row-by-row, the baseline: per message one inbox INSERT, one SELECT … FOR UPDATE, one UPDATE
//     (when the status is newer) and one history INSERT, decided by the same planSupplierUpdates.
// The two changes are patched onto the repository instances here; src/ is not touched. Every way
// must give the same outcomes and leave the same rows; the run checks and says so.
//
// How the plans are captured: the profiled DataSource's sessions start with `-c
// session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0` and log_analyze,
// log_buffers, log_wal, log_triggers, log_format=json, log_level=notice; `log_planner_stats=on`
// (auto_explain gives no planning time), `log_min_duration_statement=0` with
// `log_parameter_max_length=0` (parse/bind/execute per statement), `client_min_messages=log`. All
// of it reaches the client as notices, collected from the pg clients of the DataSource's pool.
// Only those sessions are instrumented (connection options rather than ALTER DATABASE), so seeding
// and the checks are not; the LOG lines also land in the server's log.
//
// State seeded (after the migrations, run with dist/database/migrate.js as `npm run migrate`
// does): BENCH_APPLY_ORDERS linked orders (COMPLETED, supplier order id set; the newest
// BENCH_APPLY_IN_FLIGHT still moving at 1688: 60 % with a supplier status already, 40 % none),
// BENCH_APPLY_INBOX earlier 1688 messages in the inbox, 2–3 history lines per order; VACUUM
// ANALYZE. A batch: 10 % re-sent earlier messages (duplicates by the inbox), 2 % topics the
// service does not act on, 4 % for supplier orders nobody has (EXTERNAL placeholders), the rest
// for in-flight orders, of which those with a status get 1 in 8 an older message (kept in history
// as ignored) and the others a newer one (applied). Each way runs on a fresh copy (CREATE DATABASE
// … TEMPLATE) and a CHECKPOINT precedes its first batch, so that every run starts alike (the first
// change of a page after a checkpoint writes a full-page image).
//
//   npm run build && node bench/apply-sql-profile.mjs
//
// BENCH_APPLY_BATCH (1000), BENCH_APPLY_ORDERS (100000), BENCH_APPLY_IN_FLIGHT (10000),
// BENCH_APPLY_INBOX (200000), BENCH_APPLY_ROUNDS (5), BENCH_APPLY_SEED (1688),
// BENCH_APPLY_PLANS (1: print each statement's plan tree; 0: tables only).
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
// @ts-expect-error -- pg ships no types for its utils
import pgUtils from 'pg/lib/utils.js';
import { DataSource } from 'typeorm';
import { mulberry32 } from '../tools/lib/harness-prng.mjs';
import { ADMIN_DATABASE_URL, ROOT, cleanup, isolated } from './lib.mjs';

// The compiled service (npm run build first). Loaded by path at run time, not imported: dist/ does
// not exist when the harness is type-checked on a fresh clone, and its JavaScript carries no types.
const fromDist = (/** @type {string} */ file) => import(new URL(`../dist/${file}`, import.meta.url).href);
const { dataSourceOptions } = await fromDist('database/data-source-options.js');
const { migrate } = await fromDist('database/migrate.js');
const { OrderMessageApplier, placeholderIdOf } = await fromDist('orders/order-message-applier.js');
const { InboxRepository, inboxKey } = await fromDist('orders/repositories/inbox.repository.js');
const { OrderHistoryRepository } = await fromDist('orders/repositories/order-history.repository.js');
const { OrdersRepository } = await fromDist('orders/repositories/orders.repository.js');
const { planSupplierUpdates } = await fromDist('orders/supplier-status-plan.js');
const { lifecycleRank } = await fromDist('orders/supplier-status.js');

const BATCH = Number(process.env.BENCH_APPLY_BATCH ?? 1_000);
const ORDERS = Number(process.env.BENCH_APPLY_ORDERS ?? 100_000);
const IN_FLIGHT = Number(process.env.BENCH_APPLY_IN_FLIGHT ?? 10_000);
const INBOX = Number(process.env.BENCH_APPLY_INBOX ?? 200_000);
const ROUNDS = Number(process.env.BENCH_APPLY_ROUNDS ?? 5);
const SEED = Number(process.env.BENCH_APPLY_SEED ?? 1688);
const PRINT_PLANS = (process.env.BENCH_APPLY_PLANS ?? '1') !== '0';
/** 1688's order ids: above 2^53, digit for digit. */
const ID_BASE = 167539019440000000n;
const NOW = Date.now();
const BUYER = 'b2b-1676547900b7bb3';
const SELLER = 'b2b-2207419858a2b96';

const PROFILE_OPTIONS = [
  'session_preload_libraries=auto_explain',
  'auto_explain.log_min_duration=0',
  'auto_explain.log_analyze=on',
  'auto_explain.log_buffers=on',
  'auto_explain.log_wal=on',
  'auto_explain.log_triggers=on',
  'auto_explain.log_timing=on',
  'auto_explain.log_format=json',
  'auto_explain.log_level=notice',
  'log_planner_stats=on',
  'log_min_duration_statement=0',
  'log_parameter_max_length=0',
  'track_io_timing=on',
  'client_min_messages=log',
]
  .map((setting) => `-c ${setting}`)
  .join(' ');

/**
 * @typedef {{ orderId: string | null, supplierOrderId: string | null, status: string | null, occurredAt: string, bornAt: number }} Change
 * @typedef {{ source: '1688', messageId: string, topic: string, receivedAt: string, body: string, changes: Change[],
 *   ignoredReason: string | null, via: 'push' }} Message
 * @typedef {{ id: string, supplierOrderId: string, status: string | null, atMs: number | null, createdMs: number }} SeedOrder
 * @typedef {'applied' | 'ignored' | 'duplicate'} Outcome
 */

/**
 * @typedef {object} Statement One round trip of the batch's transaction.
 * @property {string} sql
 * @property {unknown[]} values the parameters it carried (to time their serialisation afterwards)
 * @property {number | null} rowCount what the server said (rows inserted, updated or returned)
 * @property {number} roundTripMs from the client's call to its answer, parsed
 * @property {{ severity: string, message: string, detail?: string }[]} notices
 */

/**
 * @typedef {object} Run
 * @property {string} label
 * @property {number} wallMs the apply call, from start to end
 * @property {Statement[]} statements
 * @property {number} connectionsOpened during the batch (0: the pool's connection was reused)
 * @property {Outcome[]} outcomes
 */

// ---------------------------------------------------------------------------------------------
// Seeded state and batches
// ---------------------------------------------------------------------------------------------

const random = mulberry32(SEED);
/**
 * @template T
 * @param {T[]} items
 * @returns {T[]}
 */
function shuffled(items) {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [/** @type {T} */ (copy[j]), /** @type {T} */ (copy[i])];
  }
  return copy;
}

/** @param {number} i */
const orderIdOf = (i) => `ord-${String(i).padStart(7, '0')}`;
/** @param {number} i */
const supplierIdOf = (i) => String(ID_BASE + BigInt(i));

/** @returns {SeedOrder[]} */
function seedOrders() {
  return Array.from({ length: ORDERS }, (_, i) => {
    const createdMs = NOW - (ORDERS - i) * 20_000;
    const inFlight = i >= ORDERS - IN_FLIGHT;
    if (inFlight) {
      const hasStatus = random() >= 0.4;
      return {
        id: orderIdOf(i),
        supplierOrderId: supplierIdOf(i),
        status: hasStatus ? 'waitbuyerpay' : null,
        atMs: hasStatus ? createdMs + 120_000 : null,
        createdMs,
      };
    }
    return {
      id: orderIdOf(i),
      supplierOrderId: supplierIdOf(i),
      status: 'success',
      atMs: Math.min(createdMs + 3 * 86_400_000, NOW - 3_600_000),
      createdMs,
    };
  });
}

/**
 * A 1688 push's message text as the webhook keeps it.
 *
 * @param {number} msgId
 * @param {string} topic
 * @param {number} bornAt
 * @param {string | null} supplierOrderId
 * @param {string | null} status
 */
function body1688(msgId, topic, bornAt, supplierOrderId, status) {
  const data =
    supplierOrderId === null
      ? `{"orderId":0,"logisticsId":"LP00${msgId}","statusChanged":"ACCEPT"}`
      : `{"orderId":${supplierOrderId},"currentStatus":"${status}","buyerMemberId":"${BUYER}","sellerMemberId":"${SELLER}"}`;
  return `{"msgId":${msgId},"type":"${topic}","gmtBorn":${bornAt},"userInfo":"${BUYER}","data":${data}}`;
}

/**
 * A message as the webhooks module queues it (src/webhooks/alibaba-message.ts): occurredAt from
 * gmtBorn when there is no msgSendTime.
 *
 * @param {number} msgId
 * @param {string} topic
 * @param {number} bornAt
 * @param {string | null} supplierOrderId null: a topic the service does not act on
 * @param {string | null} status
 * @returns {Message}
 */
function message1688(msgId, topic, bornAt, supplierOrderId, status) {
  const occurredAt = new Date(bornAt).toISOString();
  return {
    source: '1688',
    messageId: String(msgId),
    topic,
    receivedAt: new Date(NOW + 1_000).toISOString(),
    body: body1688(msgId, topic, bornAt, supplierOrderId, status),
    changes: supplierOrderId === null ? [] : [{ orderId: null, supplierOrderId, status, occurredAt, bornAt }],
    ignoredReason: supplierOrderId === null ? `topic ${topic} is not one the service acts on` : null,
    via: 'push',
  };
}

/** The earlier message `msgId` of the seeded inbox (for the order msgId mod ORDERS). */
function earlierMessage(/** @type {number} */ msgId) {
  const order = msgId % ORDERS;
  const bornAt = NOW - (INBOX - msgId) * 10_000;
  return message1688(msgId, 'ORDER_BUYER_VIEW_ORDER_PAY', bornAt, supplierIdOf(order), 'waitsellersend');
}

/**
 * Batch `k` (0: the profiled cold batch; 1: the warm one), shuffled; every batch names other orders.
 *
 * @param {number} k
 * @param {SeedOrder[]} orders
 * @param {number[]} targets in-flight order indexes, shuffled
 */
function buildBatch(k, orders, targets) {
  const duplicates = Math.round(BATCH * 0.1);
  const offTopic = Math.round(BATCH * 0.02);
  const unknown = Math.round(BATCH * 0.04);
  const known = BATCH - duplicates - offTopic - unknown;
  const firstId = INBOX + 1 + k * BATCH;
  /** @type {Message[]} */
  const messages = [];
  let n = 0;
  for (let j = 0; j < duplicates; j++) messages.push(earlierMessage(INBOX - (k * duplicates + j) * 7));
  for (let j = 0; j < offTopic; j++) messages.push(message1688(firstId + n++, 'LOGISTICS_BUYER_VIEW_TRACE', NOW + n, null, null));
  for (let j = 0; j < unknown; j++)
    messages.push(
      message1688(
        firstId + n++,
        'ORDER_BUYER_VIEW_BUYER_MAKE',
        NOW + n,
        supplierIdOf(ORDERS + 1_000_000 + k * unknown + j),
        'waitbuyerpay',
      ),
    );
  let withStatus = 0;
  for (const index of targets.slice(k * known, (k + 1) * known)) {
    const order = /** @type {SeedOrder} */ (orders[index]);
    const older = order.atMs !== null && withStatus++ % 8 === 7;
    messages.push(
      older
        ? message1688(firstId + n++, 'ORDER_BUYER_VIEW_BUYER_MAKE', order.createdMs + 60_000, order.supplierOrderId, 'waitbuyerpay')
        : message1688(firstId + n++, 'ORDER_BUYER_VIEW_ORDER_PAY', NOW + n, order.supplierOrderId, 'waitsellersend'),
    );
  }
  return shuffled(messages);
}

/**
 * Migrates and fills the seed database, then VACUUM ANALYZE.
 *
 * @param {string} url
 * @param {SeedOrder[]} orders
 */
async function seed(url, orders) {
  await migrate({ databaseUrl: url, databaseMigrationUrl: '', databasePoolMax: 1 });
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    for (let from = 0; from < orders.length; from += 10_000) {
      const chunk = orders.slice(from, from + 10_000);
      await db.query(
        `INSERT INTO orders (id, status, payload, supplier_order_id, supplier_status, supplier_status_at, supplier_status_born,
                             supplier_status_rank, attempts, created_at, updated_at)
         SELECT id, 'COMPLETED',
                jsonb_build_object('sku', 'SKU-' || right(id, 5), 'quantity', 1 + length(id) % 5, 'unitPrice', '12.80',
                  'buyer', jsonb_build_object('name', 'Buyer ' || right(id, 4), 'phone', '+86 138 0013 ' || right(id, 4)),
                  'shipTo', jsonb_build_object('province', 'Zhejiang', 'city', 'Hangzhou', 'street', 'No. ' || right(id, 3) || ' Wensan Road'),
                  'note', 'deliver on weekdays'),
                supplier_order_id, supplier_status, to_timestamp(at_ms / 1000.0), at_ms, rank, 1,
                to_timestamp(created_ms / 1000.0), to_timestamp(coalesce(at_ms, created_ms + 60000) / 1000.0)
         FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::smallint[], $6::bigint[])
           AS i(id, supplier_order_id, supplier_status, at_ms, rank, created_ms)`,
        [
          chunk.map((o) => o.id),
          chunk.map((o) => o.supplierOrderId),
          chunk.map((o) => o.status),
          chunk.map((o) => o.atMs),
          chunk.map((o) => (o.status === null ? null : lifecycleRank(o.status))),
          chunk.map((o) => o.createdMs),
        ],
      );
    }
    for (let from = 1; from <= INBOX; from += 20_000) {
      const chunk = Array.from({ length: Math.min(20_000, INBOX - from + 1) }, (_, i) => earlierMessage(from + i));
      await db.query(
        `INSERT INTO inbox_messages (source, message_id, topic, body, received_at, applied_at, outcome, reason)
         SELECT '1688', id, topic, body, received_at, received_at + interval '40 milliseconds', 'applied', NULL
         FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) AS i(id, topic, body, received_at)`,
        [
          chunk.map((m) => m.messageId),
          chunk.map((m) => m.topic),
          chunk.map((m) => m.body),
          chunk.map((m) => /** @type {Change} */ (m.changes[0]).occurredAt),
        ],
      );
    }
    // Each order's history as creating, dispatching and its last 1688 message left it.
    await db.query(
      `INSERT INTO order_history (order_id, kind, outcome, from_status, to_status, created_at)
       SELECT id, 'status_change', 'applied', s.from_status, s.to_status, created_at + s.after
       FROM orders CROSS JOIN (VALUES ('PENDING', 'PROCESSING', interval '1 second'), ('PROCESSING', 'COMPLETED', interval '3 seconds'))
         AS s(from_status, to_status, after)
       ORDER BY created_at, s.after`,
    );
    await db.query(
      `INSERT INTO order_history (order_id, kind, outcome, source, message_id, topic, supplier_status, occurred_at, created_at)
       SELECT id, 'supplier_message', 'applied', '1688', 'seed-' || id, 'ORDER_BUYER_VIEW_BUYER_MAKE', supplier_status, supplier_status_at,
              supplier_status_at + interval '1 second'
       FROM orders WHERE supplier_status IS NOT NULL ORDER BY supplier_status_at`,
    );
    await db.query('VACUUM ANALYZE orders, inbox_messages, order_history');
    const sizes = await db.query(
      ['orders', 'inbox_messages', 'order_history']
        .map(
          (table) => `SELECT '${table}' AS relname, (SELECT count(*) FROM ${table}) AS rows, pg_total_relation_size('${table}') AS bytes,
                        pg_indexes_size('${table}') AS index_bytes`,
        )
        .join(' UNION ALL '),
    );
    return /** @type {{ relname: string, rows: string, bytes: string, index_bytes: string }[]} */ (sizes.rows);
  } finally {
    await db.end();
  }
}

/**
 * A copy of the seeded database (retried while an autovacuum worker is still in the template).
 *
 * @param {pg.Client} admin
 * @param {string} template
 * @param {string} label
 */
async function clone(admin, template, label) {
  const names = isolated(label);
  for (let attempt = 1; ; attempt++) {
    try {
      await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(names.databaseName)} TEMPLATE ${pg.escapeIdentifier(template)}`);
      return names;
    } catch (error) {
      if (attempt >= 20 || !/being accessed by other users/.test(/** @type {Error} */ (error).message)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Capture: every round trip of the pool's clients, with the notices it brought
// ---------------------------------------------------------------------------------------------

class Capture {
  constructor() {
    /** @type {Statement[] | null} */
    this.current = null;
    /** @type {Statement | null} */
    this.inFlight = null;
    this.connectionsOpened = 0;
    /** @type {WeakSet<object>} */
    this.instrumented = new WeakSet();
  }

  /**
   * Wraps `client.query` and listens for its notices (once per client).
   *
   * @param {any} client a pg.Client of the DataSource's pool
   */
  instrument(client) {
    if (this.instrumented.has(client)) return;
    this.instrumented.add(client);
    client.on('notice', (/** @type {any} */ notice) => {
      if (this.inFlight) this.inFlight.notices.push({ severity: notice.severity, message: notice.message, detail: notice.detail });
    });
    const original = client.query.bind(client);
    client.query = (/** @type {any[]} */ ...args) => {
      if (!this.current) return original(...args);
      if (this.inFlight) throw new Error('two statements in flight on one connection: the capture cannot tell their notices apart');
      /** @type {Statement} */
      const statement = {
        sql: typeof args[0] === 'string' ? args[0] : String(args[0]?.text),
        values: Array.isArray(args[1]) ? args[1] : [],
        rowCount: null,
        roundTripMs: 0,
        notices: [],
      };
      this.current.push(statement);
      this.inFlight = statement;
      const start = performance.now();
      const done = () => {
        statement.roundTripMs = performance.now() - start;
        this.inFlight = null;
      };
      return /** @type {Promise<any>} */ (original(...args)).then(
        (/** @type {any} */ result) => {
          done();
          statement.rowCount = result?.rowCount ?? null;
          return result;
        },
        (/** @type {unknown} */ error) => {
          done();
          throw error;
        },
      );
    };
  }

  /**
   * @template T
   * @param {() => Promise<T>} work
   */
  async record(work) {
    /** @type {Statement[]} */
    const statements = [];
    this.current = statements;
    this.connectionsOpened = 0;
    const start = performance.now();
    try {
      const result = await work();
      return { result, statements, wallMs: performance.now() - start, connectionsOpened: this.connectionsOpened };
    } finally {
      this.current = null;
    }
  }
}

/**
 * A DataSource as the service makes it (dataSourceOptions), one connection, instrumented or not.
 *
 * @param {string} url
 * @param {boolean} profile
 */
async function openDataSource(url, profile) {
  const options = dataSourceOptions({ databaseUrl: url, databasePoolMax: 1 }, 1);
  const dataSource = new DataSource(
    /** @type {any} */ ({
      ...options,
      extra: { ...options.extra, application_name: 'ordersync-apply-sql-profile', ...(profile ? { options: PROFILE_OPTIONS } : {}) },
    }),
  );
  await dataSource.initialize();
  const capture = new Capture();
  const pool = /** @type {any} */ (dataSource.driver).master;
  pool.on('connect', () => capture.connectionsOpened++);
  pool.on('acquire', (/** @type {any} */ client) => capture.instrument(client));
  return { dataSource, capture };
}

// ---------------------------------------------------------------------------------------------
// The ways to apply a batch: today's applier, two changes to its SQL patched in here, row by row
// ---------------------------------------------------------------------------------------------

/**
 * insertPlaceholders (src/orders/repositories/orders.repository.ts) without `p.supplier_order_id
 * IS NULL OR`: for a NULL supplier id `o.supplier_order_id = NULL` matches nothing, so NOT EXISTS
 * is true either way (the same rows for every input); without the OR the planner can make it an
 * anti-join instead of a hashed subplan that reads every supplier id of the table.
 */
const PLACEHOLDERS_ANTI_JOIN_SQL = `INSERT INTO orders (id, status, supplier_order_id, placeholder_for)
       SELECT p.id, 'EXTERNAL', p.supplier_order_id, p.placeholder_for
       FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS p(id, supplier_order_id, placeholder_for, n)
       WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = p.id)
         AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.supplier_order_id = p.supplier_order_id)
       ORDER BY p.n
       ON CONFLICT DO NOTHING`;

/** updateSupplierStatuses and history.append of src/orders/repositories in one statement (a writable CTE). */
const MERGED_SQL = `WITH supplier_updates AS (
  UPDATE orders o
  SET supplier_status = u.status, supplier_status_at = to_timestamp(u.at_ms / 1000.0), supplier_status_born = u.born,
      supplier_status_rank = u.rank, updated_at = now()
  FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::smallint[]) AS u(id, status, at_ms, born, rank)
  WHERE o.id = u.id
)
INSERT INTO order_history (order_id, kind, outcome, source, message_id, topic, supplier_status, occurred_at, from_status, to_status, attempt, reason)
SELECT e.order_id, e.kind, e.outcome, e.source, e.message_id, e.topic, e.supplier_status,
       CASE WHEN e.at_ms IS NULL THEN NULL ELSE to_timestamp(e.at_ms / 1000.0) END, e.from_status, e.to_status, e.attempt, e.reason
FROM unnest($6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[], $14::text[], $15::text[], $16::int[], $17::text[])
     WITH ORDINALITY AS e(order_id, kind, outcome, source, message_id, topic, supplier_status, at_ms, from_status, to_status, attempt, reason, n)
ORDER BY e.n`;

const HISTORY_KEYS = [
  'orderId',
  'kind',
  'outcome',
  'source',
  'messageId',
  'topic',
  'supplierStatus',
  'occurredAtMs',
  'fromStatus',
  'toStatus',
  'attempt',
  'reason',
];

/**
 * @typedef {'today' | 'anti-join' | 'anti-join+cte' | 'row-by-row'} Way
 *   today: the compiled applier as it is; anti-join: with PLACEHOLDERS_ANTI_JOIN_SQL; anti-join+cte:
 *   with that and MERGED_SQL; row-by-row: the baseline
 */

/**
 * The compiled applier over the compiled repositories; `anti-join` and `anti-join+cte` replace a
 * repository method on the instance (src/ stays as it is).
 *
 * @param {DataSource} dataSource
 * @param {Exclude<Way, 'row-by-row'>} way
 */
function applierFor(dataSource, way) {
  const orders = new OrdersRepository(dataSource);
  const history = new OrderHistoryRepository(dataSource);
  if (way !== 'today') {
    orders.insertPlaceholders = async (
      /** @type {any} */ db,
      /** @type {{ id: string, supplierOrderId: string | null, placeholderFor: string }[]} */ placeholders,
    ) => {
      if (placeholders.length === 0) return;
      const sorted = [...placeholders].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      await db.query(PLACEHOLDERS_ANTI_JOIN_SQL, [
        sorted.map((p) => p.id),
        sorted.map((p) => p.supplierOrderId),
        sorted.map((p) => p.placeholderFor),
      ]);
    };
  }
  if (way === 'anti-join+cte') {
    // applyChanges calls updateSupplierStatuses and then history.append: the first keeps the
    // updates, the second sends both in one statement.
    /** @type {{ orderId: string, status: string, stamp: { occurredAt: number, bornAt: number, rank: number } }[] | null} */
    let pending = null;
    const updateNow = orders.updateSupplierStatuses.bind(orders);
    const appendNow = history.append.bind(history);
    orders.updateSupplierStatuses = async (/** @type {any} */ _db, /** @type {any} */ updates) => {
      pending = updates;
    };
    history.append = async (/** @type {any} */ db, /** @type {any[]} */ entries) => {
      const updates = pending;
      pending = null;
      if (!updates || updates.length === 0) return appendNow(db, entries);
      if (entries.length === 0) return updateNow(db, updates);
      await db.query(MERGED_SQL, [
        updates.map((u) => u.orderId),
        updates.map((u) => u.status),
        updates.map((u) => u.stamp.occurredAt),
        updates.map((u) => u.stamp.bornAt),
        updates.map((u) => u.stamp.rank),
        ...HISTORY_KEYS.map((key) => entries.map((e) => e[key] ?? null)),
      ]);
    };
  }
  return new OrderMessageApplier(orders, history, new InboxRepository(dataSource));
}

/**
 * The baseline: the same decisions (planSupplierUpdates per change), one statement per message
 * and table. Handles what the batches hold: 1688 messages naming a supplier order, or none.
 *
 * @param {DataSource} dataSource
 * @param {Message[]} messages
 * @returns {Promise<Outcome[]>}
 */
function applyRowByRow(dataSource, messages) {
  return dataSource.transaction(async (db) => {
    /** @type {Outcome[]} */
    const outcomes = [];
    const seen = new Set();
    for (const m of messages) {
      const key = inboxKey(m.source, m.messageId);
      if (seen.has(key)) {
        outcomes.push('duplicate');
        continue;
      }
      seen.add(key);
      /** @type {unknown[]} */
      const fresh = await db.query(
        `INSERT INTO inbox_messages (source, message_id, topic, body, received_at, outcome, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING 1`,
        [m.source, m.messageId, m.topic, m.body, m.receivedAt, m.ignoredReason ? 'ignored' : 'applied', m.ignoredReason],
      );
      if (fresh.length === 0) {
        outcomes.push('duplicate');
        continue;
      }
      if (m.ignoredReason !== null) {
        outcomes.push('ignored');
        continue;
      }
      for (const change of m.changes) {
        if (change.orderId !== null || change.supplierOrderId === null)
          throw new Error('the row-by-row baseline handles supplier-order changes only');
        /** @type {{ id: string, supplier_status: string | null, rank: number | null, at_ms: string | null, born: string | null }[]} */
        let rows = await db.query(
          `SELECT id, supplier_status, supplier_status_rank AS rank, (extract(epoch FROM supplier_status_at) * 1000)::bigint AS at_ms,
                  supplier_status_born AS born
           FROM orders WHERE supplier_order_id = $1 FOR UPDATE`,
          [change.supplierOrderId],
        );
        if (rows.length === 0)
          rows = await db.query(
            `INSERT INTO orders (id, status, supplier_order_id, placeholder_for) VALUES ($1, 'EXTERNAL', $2, 'supplier_order')
             RETURNING id, supplier_status, supplier_status_rank AS rank, NULL::bigint AS at_ms, supplier_status_born AS born`,
            [placeholderIdOf(m.source, change.supplierOrderId), change.supplierOrderId],
          );
        const row = /** @type {(typeof rows)[number]} */ (rows[0]);
        const stamp = row.at_ms === null ? null : { occurredAt: Number(row.at_ms), bornAt: Number(row.born ?? 0), rank: row.rank ?? 0 };
        const plan = planSupplierUpdates(new Map([[row.id, { orderId: row.id, status: row.supplier_status, stamp }]]), [
          {
            orderId: row.id,
            source: m.source,
            messageId: m.messageId,
            topic: m.topic,
            status: change.status,
            occurredAt: Date.parse(change.occurredAt),
            bornAt: change.bornAt,
          },
        ]);
        for (const u of plan.updates)
          await db.query(
            `UPDATE orders SET supplier_status = $2, supplier_status_at = to_timestamp($3::bigint / 1000.0), supplier_status_born = $4,
                    supplier_status_rank = $5, updated_at = now()
             WHERE id = $1`,
            [u.orderId, u.status, u.stamp.occurredAt, u.stamp.bornAt, u.stamp.rank],
          );
        for (const e of plan.events)
          await db.query(
            `INSERT INTO order_history (order_id, kind, outcome, source, message_id, topic, supplier_status, occurred_at, reason)
             VALUES ($1, 'supplier_message', $2, $3, $4, $5, $6, to_timestamp($7::bigint / 1000.0), $8)`,
            [e.orderId, e.outcome, e.source, e.messageId, e.topic, e.status, e.occurredAt, e.reason],
          );
      }
      outcomes.push('applied');
    }
    return outcomes;
  });
}

/**
 * Applies the batches one after the other on one connection; a CHECKPOINT before the first.
 *
 * @param {Way} way
 * @param {string} url
 * @param {Message[][]} batches
 * @param {{ profile: boolean, admin: pg.Client }} options
 * @returns {Promise<Run[]>}
 */
async function runBatches(way, url, batches, { profile, admin }) {
  const { dataSource, capture } = await openDataSource(url, profile);
  try {
    const applier = way === 'row-by-row' ? null : applierFor(dataSource, way);
    await admin.query('CHECKPOINT');
    /** @type {Run[]} */
    const runs = [];
    for (const [k, batch] of batches.entries()) {
      const { result, statements, wallMs, connectionsOpened } = await capture.record(() =>
        applier ? /** @type {Promise<Outcome[]>} */ (applier.apply(batch)) : applyRowByRow(dataSource, batch),
      );
      runs.push({ label: k === 0 ? 'cold' : 'warm', wallMs, statements, connectionsOpened, outcomes: result });
    }
    return runs;
  } finally {
    await dataSource.destroy();
  }
}

/**
 * The fixed cost of one round trip on this connection, in a transaction as the applier's are:
 * `SELECT 1` (simple protocol) and `SELECT $1::int` (parse/bind/execute, as every statement with
 * parameters), median of 200 each.
 *
 * @param {string} url
 */
async function roundTripCost(url) {
  const { dataSource, capture } = await openDataSource(url, false);
  try {
    const { statements } = await capture.record(() =>
      dataSource.transaction(async (db) => {
        for (let i = 0; i < 200; i++) {
          await db.query('SELECT 1');
          await db.query('SELECT $1::int', [i]);
        }
      }),
    );
    const of = (/** @type {string} */ sql) => median(statements.filter((s) => s.sql === sql).map((s) => s.roundTripMs));
    return { simple: of('SELECT 1'), extended: of('SELECT $1::int') };
  } finally {
    await dataSource.destroy();
  }
}

/** What the rows say, without times and generated ids: equal fingerprints, same outcome. */
async function fingerprint(/** @type {string} */ url) {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const { rows } = await db.query(
      `SELECT
         (SELECT md5(string_agg(ROW(id, status, supplier_order_id, supplier_status, supplier_status_at, supplier_status_born,
                                   supplier_status_rank, placeholder_for, payload)::text, ',' ORDER BY id)) FROM orders) AS orders,
         (SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (
            SELECT ROW(order_id, kind, outcome, source, message_id, topic, supplier_status, occurred_at, from_status, to_status, attempt, reason)::text AS x
            FROM order_history) h) AS history,
         (SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (
            SELECT ROW(source, message_id, topic, body, received_at, outcome, reason)::text AS x FROM inbox_messages) i) AS inbox,
         (SELECT count(*) FROM orders) AS order_rows, (SELECT count(*) FROM order_history) AS history_rows,
         (SELECT count(*) FROM inbox_messages) AS inbox_rows`,
    );
    return /** @type {Record<string, string>} */ (rows[0]);
  } finally {
    await db.end();
  }
}

// ---------------------------------------------------------------------------------------------
// Reading the captured notices
// ---------------------------------------------------------------------------------------------

/** @param {string} sql */
function describe(sql) {
  const text = sql.replace(/\s+/g, ' ').trim();
  if (/^START TRANSACTION/i.test(text)) return 'BEGIN (TypeORM: START TRANSACTION)';
  if (/^COMMIT/i.test(text)) return 'COMMIT';
  if (/^WITH supplier_updates AS \( ?UPDATE orders/.test(text)) return 'supplier statuses + history lines (one writable CTE)';
  if (/^INSERT INTO inbox_messages .* unnest/.test(text))
    return 'inbox: record the new messages (INSERT … ON CONFLICT DO NOTHING RETURNING)';
  if (/^INSERT INTO inbox_messages/.test(text)) return 'inbox: one message';
  if (/^INSERT INTO orders .*'EXTERNAL'.* unnest/.test(text))
    return 'placeholders for supplier orders nobody has (INSERT … WHERE NOT EXISTS)';
  if (/^INSERT INTO orders .*'EXTERNAL'/.test(text)) return 'one placeholder';
  if (/FOR UPDATE$/.test(text) && /ANY\(\$1/.test(text)) return 'lock the orders named (SELECT … FOR UPDATE, ORDER BY id)';
  if (/FOR UPDATE$/.test(text)) return 'lock one order (SELECT … FOR UPDATE)';
  if (/^UPDATE orders o SET supplier_status/.test(text)) return 'supplier statuses (UPDATE … FROM unnest)';
  if (/^UPDATE orders SET supplier_status/.test(text)) return 'one supplier status (UPDATE … WHERE id = $1)';
  if (/^INSERT INTO order_history .* unnest/.test(text)) return 'history lines (INSERT … SELECT FROM unnest)';
  if (/^INSERT INTO order_history/.test(text)) return 'one history line';
  if (/^SELECT id FROM orders WHERE id = ANY/.test(text)) return 'which placeholder ids are taken';
  return text.slice(0, 60);
}

/**
 * @typedef {object} Profiled
 * @property {string} what
 * @property {number | null} rows
 * @property {number} roundTripMs
 * @property {number | null} execMs auto_explain's duration (executor start to end, AFTER triggers included)
 * @property {number | null} planMs the statement's own planning (log_planner_stats elapsed)
 * @property {number} nestedPlanMs planning inside it (the FK trigger's query: its first calls in a session)
 * @property {{ parse: number, bind: number, execute: number, simple: number } | null} server
 *   log_min_duration_statement's durations: parse, bind (parameters read, plan made), execute; simple: a
 *   parameterless statement (simple query protocol)
 * @property {number} serialiseMs pg turning the parameters into text (timed again afterwards: best of 5)
 * @property {any} plan the JSON plan's top node
 * @property {{ name: string, timeMs: number, calls: number }[]} triggers
 */

/** @param {unknown[]} values */
function serialiseMs(values) {
  if (values.length === 0) return 0;
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const start = performance.now();
    for (const value of values) pgUtils.prepareValue(value);
    best = Math.min(best, performance.now() - start);
  }
  return best;
}

/**
 * What the notices of a run say about each of its statements. auto_explain reports a statement
 * when its executor ends: an INSERT or UPDATE in its own round trip, a SELECT when its portal is
 * dropped, i.e. at the next statement's Bind (or COMMIT); plans are matched by their query text.
 *
 * @param {Run} run
 * @returns {Profiled[]}
 */
function profileRun(run) {
  /** @type {({ execMs: number, plan: any, triggers: Profiled['triggers'] } | null)[]} */
  const explains = run.statements.map(() => null);
  for (const [i, statement] of run.statements.entries()) {
    for (const notice of statement.notices) {
      const match = /^duration: ([\d.]+) ms\s+plan:\n([\s\S]*)$/.exec(notice.message);
      if (!match) continue;
      const parsed = JSON.parse(/** @type {string} */ (match[2]));
      const text = String(parsed['Query Text']).trim();
      let j = i;
      while (j >= 0 && (explains[j] || /** @type {Statement} */ (run.statements[j]).sql.trim() !== text)) j--;
      if (j < 0) throw new Error(`a plan for no statement of the run: ${text.slice(0, 80)}`);
      explains[j] = {
        execMs: Number(match[1]),
        plan: parsed.Plan,
        triggers: (parsed.Triggers ?? []).map((/** @type {any} */ t) => ({
          name: t['Constraint Name'] ?? t['Trigger Name'],
          timeMs: Number(t.Time),
          calls: Number(t.Calls),
        })),
      };
    }
  }
  return run.statements.map((statement, i) => {
    const planner = statement.notices
      .filter((n) => n.message === 'PLANNER STATISTICS')
      .map((n) => Number(/([\d.]+) s elapsed/.exec(n.detail ?? '')?.[1] ?? NaN) * 1000);
    const server = { parse: 0, bind: 0, execute: 0, simple: 0 };
    let logged = false;
    for (const n of statement.notices) {
      const match = /^duration: ([\d.]+) ms {2}(parse|bind|execute|statement)\b/.exec(n.message);
      if (!match) continue;
      logged = true;
      const phase = match[2] === 'statement' ? 'simple' : /** @type {'parse' | 'bind' | 'execute'} */ (match[2]);
      server[phase] += Number(match[1]);
    }
    const explain = explains[i];
    return {
      what: describe(statement.sql),
      rows: statement.rowCount,
      roundTripMs: statement.roundTripMs,
      execMs: explain?.execMs ?? null,
      planMs: planner.length ? /** @type {number} */ (planner[0]) : null,
      nestedPlanMs: planner.slice(1).reduce((a, b) => a + b, 0),
      server: logged ? server : null,
      serialiseMs: serialiseMs(statement.values),
      plan: explain?.plan ?? null,
      triggers: explain?.triggers ?? [],
    };
  });
}

/** @param {number} value @param {number} [digits] */
const ms = (value, digits = 2) => value.toFixed(digits);
/** @param {number[]} values */
function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? /** @type {number} */ (sorted[mid])
    : /** @type {number} */ (sorted[mid - 1] + /** @type {number} */ (sorted[mid])) / 2;
}
const COUNTERS = [
  'Shared Hit Blocks',
  'Shared Read Blocks',
  'Shared Dirtied Blocks',
  'Shared Written Blocks',
  'WAL Records',
  'WAL FPI',
  'WAL Bytes',
];
/**
 * A statement's buffers and WAL: its top plan node's, plus those of a writable CTE nobody reads
 * (run to completion after the main plan, so outside the top node's counts).
 *
 * @param {any} plan
 * @returns {Record<string, number> | null}
 */
function counters(plan) {
  if (!plan) return null;
  const nodes = [
    plan,
    ...(plan.Plans ?? []).filter(
      (/** @type {any} */ child) => child['Node Type'] === 'ModifyTable' && child['Parent Relationship'] === 'InitPlan',
    ),
  ];
  return Object.fromEntries(COUNTERS.map((key) => [key, nodes.reduce((sum, node) => sum + Number(node[key] ?? 0), 0)]));
}
/** @param {any} plan */
const buffers = (plan, c = counters(plan)) =>
  c ? `${c['Shared Hit Blocks']}/${c['Shared Read Blocks']}/${c['Shared Dirtied Blocks']}/${c['Shared Written Blocks']}` : '';
/** @param {any} plan */
const wal = (plan, c = counters(plan)) => (c ? `${c['WAL Records']}/${c['WAL FPI']}/${(Number(c['WAL Bytes']) / 1024).toFixed(0)}` : '');
/** @param {any} node */
const nodeBuffers = (node) =>
  `${node['Shared Hit Blocks']}/${node['Shared Read Blocks']}/${node['Shared Dirtied Blocks']}/${node['Shared Written Blocks']}`;
/** @param {any} node */
const nodeWal = (node) => `${node['WAL Records']}/${node['WAL FPI']}/${(Number(node['WAL Bytes']) / 1024).toFixed(0)}`;

/**
 * The statement table of one run, and its totals.
 *
 * @param {string} title
 * @param {Run} run
 */
function statementTable(title, run) {
  const rows = profileRun(run);
  const lines = [
    `### ${title}`,
    '',
    '| # | statement | rows | planning ms | execution ms | FK trigger ms (calls) | buffers hit/read/dirtied/written | WAL records/FPI/kB | server parse/bind/execute ms | client serialise ms | round trip ms |',
    '|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|',
  ];
  const serverMs = (/** @type {Profiled} */ r) => (r.server ? r.server.parse + r.server.bind + r.server.execute + r.server.simple : 0);
  for (const [i, row] of rows.entries()) {
    const triggers = row.triggers.map((t) => `${ms(t.timeMs)} (${t.calls})`).join('; ');
    const planning = row.planMs === null ? '' : `${ms(row.planMs)}${row.nestedPlanMs > 0 ? ` (+${ms(row.nestedPlanMs)} FK query's)` : ''}`;
    const server = !row.server
      ? ''
      : row.server.simple > 0
        ? ms(row.server.simple)
        : `${ms(row.server.parse)}/${ms(row.server.bind)}/${ms(row.server.execute)}`;
    lines.push(
      `| ${i + 1} | ${row.what} | ${row.rows ?? ''} | ${planning} | ${row.execMs === null ? '' : ms(row.execMs)} | ${triggers} | ${buffers(row.plan)} | ${wal(row.plan)} | ${server} | ${row.serialiseMs > 0 ? ms(row.serialiseMs) : ''} | ${ms(row.roundTripMs)} |`,
    );
  }
  const sum = (/** @type {(r: Profiled) => number | null} */ pick) => rows.reduce((total, r) => total + (pick(r) ?? 0), 0);
  const totals = {
    statements: rows.length,
    execMs: sum((r) => r.execMs),
    planMs: sum((r) => r.planMs) + sum((r) => r.nestedPlanMs),
    triggerMs: sum((r) => r.triggers.reduce((t, x) => t + x.timeMs, 0)),
    serverMs: sum(serverMs),
    bindMs: sum((r) => r.server?.bind ?? 0),
    serialiseMs: sum((r) => r.serialiseMs),
    roundTripMs: sum((r) => r.roundTripMs),
    commitMs: rows.filter((r) => r.what === 'COMMIT').reduce((t, r) => t + r.roundTripMs, 0),
    walKb: sum((r) => (counters(r.plan)?.['WAL Bytes'] ?? 0) / 1024),
    walFpi: sum((r) => counters(r.plan)?.['WAL FPI'] ?? 0),
    wallMs: run.wallMs,
  };
  lines.push(
    `| | **${totals.statements} statements, ${totals.statements} round trips** (BEGIN and COMMIT included) | | **${ms(totals.planMs)}** | **${ms(totals.execMs)}** | ${ms(totals.triggerMs)} | | **${ms(totals.walKb, 0)} kB, ${totals.walFpi} FPI** | **${ms(totals.serverMs)}** | **${ms(totals.serialiseMs)}** | **${ms(totals.roundTripMs)}** |`,
    '',
    `apply() took ${ms(run.wallMs)} ms: ${ms(totals.roundTripMs)} ms in round trips, of which the server spent ${ms(totals.serverMs)} ms ` +
      `(bind ${ms(totals.bindMs)} ms: reading the parameter arrays and planning; COMMIT round trip ${ms(totals.commitMs)} ms) and pg ≥ ${ms(totals.serialiseMs)} ms ` +
      `serialising parameters, the rest (${ms(totals.roundTripMs - totals.serverMs - totals.serialiseMs)} ms) in the socket, pg's parsing of answers, TypeORM and the event loop; ` +
      `${ms(run.wallMs - totals.roundTripMs)} ms between round trips (the applier's JavaScript). ` +
      `Connections opened during it: ${run.connectionsOpened}. Outcomes: ${countOutcomes(run.outcomes)}.`,
  );
  if (PRINT_PLANS) {
    lines.push('', '```');
    for (const [i, row] of rows.entries()) {
      if (!row.plan) continue;
      lines.push(`-- ${i + 1}. ${row.what}`);
      planTree(row.plan, 0, lines);
      for (const t of row.triggers) lines.push(`   Trigger ${t.name}: ${ms(t.timeMs, 3)} ms, ${t.calls} calls`);
    }
    lines.push('```');
  }
  console.log(`\n${lines.join('\n')}\n`);
  return totals;
}

/**
 * A plan node and its children, one line each.
 *
 * @param {any} node
 * @param {number} depth
 * @param {string[]} out
 */
function planTree(node, depth, out) {
  const name = [
    node['Node Type'] === 'ModifyTable' ? node.Operation : node['Node Type'],
    node['Join Type'] && node['Join Type'] !== 'Inner' ? `(${node['Join Type']})` : '',
    node['Relation Name'] ? `on ${node['Relation Name']}${node.Alias && node.Alias !== node['Relation Name'] ? ` ${node.Alias}` : ''}` : '',
    node['Index Name'] ? `using ${node['Index Name']}` : '',
    node['Function Name'] ? `${node['Function Name']}()` : '',
    node['CTE Name'] ? `CTE ${node['CTE Name']}` : '',
    node['Subplan Name'] ? `[${node['Subplan Name']}]` : '',
  ]
    .filter(Boolean)
    .join(' ');
  const details = [
    `rows ${node['Actual Rows']}${node['Actual Loops'] > 1 ? ` × ${node['Actual Loops']} loops` : ''} (est. ${node['Plan Rows']})`,
    `${ms(Number(node['Actual Total Time']) * Math.max(1, Number(node['Actual Loops'])), 3)} ms`,
    `buffers ${nodeBuffers(node)}`,
    Number(node['WAL Records']) > 0 ? `WAL ${nodeWal(node)}` : '',
    Number(node['I/O Read Time']) > 0 ? `read I/O ${ms(Number(node['I/O Read Time']), 3)} ms` : '',
    node['Conflict Resolution']
      ? `ON CONFLICT ${node['Conflict Resolution']}: inserted ${node['Tuples Inserted']}, conflicting ${node['Conflicting Tuples']}`
      : '',
    node['Sort Method'] ? `sort ${node['Sort Method']} ${node['Sort Space Used']} kB` : '',
    node['Hash Buckets'] ? `hash ${node['Hash Buckets']} buckets, ${node['Peak Memory Usage']} kB` : '',
    node['Heap Blocks'] !== undefined ? `heap blocks ${node['Heap Blocks']}` : '',
    node['Rows Removed by Filter'] ? `removed by filter ${node['Rows Removed by Filter']}` : '',
  ].filter(Boolean);
  const conditions = ['Index Cond', 'Recheck Cond', 'Hash Cond', 'Merge Cond', 'Join Filter', 'Filter', 'Sort Key']
    .filter((key) => node[key] !== undefined)
    .map((key) => `${key}: ${Array.isArray(node[key]) ? node[key].join(', ') : node[key]}`.slice(0, 110));
  out.push(`${'   '.repeat(depth)}${depth ? '-> ' : ''}${name}  [${details.join(' · ')}]`);
  for (const condition of conditions) out.push(`${'   '.repeat(depth)}${depth ? '   ' : ''}   ${condition}`);
  for (const child of node.Plans ?? []) planTree(child, depth + 1, out);
}

/** @param {Outcome[]} outcomes */
function countOutcomes(outcomes) {
  /** @type {Record<string, number>} */
  const counts = {};
  for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1;
  return Object.entries(counts)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

async function main() {
  /** @type {Set<import('./lib.mjs').Names>} */
  const databases = new Set();
  /** @param {import('./lib.mjs').Names} names */
  const drop = async (names) => {
    databases.delete(names);
    await cleanup(names).catch((error) => console.error(`cleanup ${names.databaseName}:`, error));
  };
  const cleanAll = async () => {
    for (const names of [...databases].reverse()) await drop(names);
  };
  for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
    process.once(signal, () => {
      console.error(`${signal}: dropping the bench databases`);
      void cleanAll().finally(() => process.exit(130));
    });
  }
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  try {
    const { rows: versionRows } = await admin.query(`SELECT current_setting('server_version') AS v, current_setting('shared_buffers') AS sb,
      current_setting('synchronous_commit') AS sc, current_setting('wal_compression') AS wc, current_setting('full_page_writes') AS fpw`);
    const server = /** @type {{ v: string, sb: string, sc: string, wc: string, fpw: string }} */ (versionRows[0]);
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const srcChanged = execFileSync('git', ['status', '--porcelain', 'src/orders', 'src/database'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const built = statSync(new URL('../dist/orders/order-message-applier.js', import.meta.url)).mtime.toISOString();
    console.log(`## Apply SQL profile: one batch of ${BATCH.toLocaleString('en-US')} messages\n`);
    console.log(
      `Postgres ${server.v} (shared_buffers ${server.sb}, synchronous_commit ${server.sc}, full_page_writes ${server.fpw}, wal_compression ${server.wc}), ` +
        `Node ${process.version}, ${os.cpus().length} cores, load ${os.loadavg()[0]?.toFixed(2)}; git ${head}` +
        `${srcChanged ? ' with uncommitted changes in src/orders or src/database' : ''}, dist built ${built}.`,
    );

    const orders = seedOrders();
    const targets = shuffled(Array.from({ length: IN_FLIGHT }, (_, i) => ORDERS - IN_FLIGHT + i));
    const batches = [buildBatch(0, orders, targets), buildBatch(1, orders, targets)];

    const seedNames = isolated('applysql_seed');
    databases.add(seedNames);
    const started = performance.now();
    const sizes = await seed(seedNames.databaseUrl, orders);
    console.log(
      `\nSeeded in ${ms((performance.now() - started) / 1000, 1)} s: ` +
        sizes
          .map(
            (s) =>
              `${s.relname} ${Number(s.rows).toLocaleString('en-US')} rows (${(Number(s.bytes) / 2 ** 20).toFixed(1)} MB, indexes ${(Number(s.index_bytes) / 2 ** 20).toFixed(1)} MB)`,
          )
          .join(', ') +
        `. Each batch: ${Math.round(BATCH * 0.1)} re-sent earlier messages, ${Math.round(BATCH * 0.02)} topics not acted on, ` +
        `${Math.round(BATCH * 0.04)} for supplier orders nobody has, the rest for in-flight orders (those with a status: 1 in 8 an older message).`,
    );

    /** @type {Way[]} */
    const ways = ['today', 'anti-join', 'anti-join+cte', 'row-by-row'];
    /**
     * @typedef {{ statements: number[], cold: number[], warm: number[], coldTrips: number[], warmTrips: number[],
     *   byKind: Map<string, { count: number, cold: number[], warm: number[] }> }} Timing
     */
    /** @returns {Timing} */
    const timing = () => ({ statements: [], cold: [], warm: [], coldTrips: [], warmTrips: [], byKind: new Map() });
    /** @type {Record<Way, Timing>} */
    const timed = { today: timing(), 'anti-join': timing(), 'anti-join+cte': timing(), 'row-by-row': timing() };
    /** @type {Map<string, string>} */
    const fingerprints = new Map();
    /** @type {Map<string, string>} */
    const outcomeSets = new Map();

    // 1. Profiled: today's applier, then with both changes, each on a copy of its own.
    /** @type {Partial<Record<Way, Run[]>>} */
    const profiles = {};
    for (const way of /** @type {const} */ (['today', 'anti-join+cte'])) {
      const names = await clone(admin, seedNames.databaseName, way === 'today' ? 'applysql_prof' : 'applysql_profx');
      databases.add(names);
      profiles[way] = await runBatches(way, names.databaseUrl, batches, { profile: true, admin });
      fingerprints.set(`${way} (profiled)`, JSON.stringify(await fingerprint(names.databaseUrl)));
      await drop(names);
    }
    const [todayCold, todayWarm] = /** @type {[Run, Run]} */ (profiles.today);
    const [fixedCold, fixedWarm] = /** @type {[Run, Run]} */ (profiles['anti-join+cte']);
    const cold = statementTable(
      `Today's applier, batch 1 (cold: a new connection, after a CHECKPOINT), every statement with its EXPLAIN ANALYZE`,
      todayCold,
    );
    const warm = statementTable(`Today's applier, batch 2 (warm: a different batch, same connection, right after)`, todayWarm);
    const fixedColdTotals = statementTable(
      `With the placeholders' anti-join and the UPDATE + history INSERT in one writable CTE, batch 1 (cold)`,
      fixedCold,
    );
    const fixedWarmTotals = statementTable(`With both changes, batch 2 (warm)`, fixedWarm);

    // 2. Uninstrumented: every way on a fresh copy, ROUNDS times, the order rotated each round.
    for (let round = 0; round < ROUNDS; round++) {
      const order = [...ways.slice(round % ways.length), ...ways.slice(0, round % ways.length)];
      for (const way of order) {
        const names = await clone(admin, seedNames.databaseName, `applysql_${way.replace(/[^a-z]/g, '')}${round}`);
        databases.add(names);
        const [first, second] = /** @type {[Run, Run]} */ (await runBatches(way, names.databaseUrl, batches, { profile: false, admin }));
        const stat = timed[way];
        stat.statements.push(first.statements.length, second.statements.length);
        stat.cold.push(first.wallMs);
        stat.warm.push(second.wallMs);
        stat.coldTrips.push(first.statements.reduce((t, s) => t + s.roundTripMs, 0));
        stat.warmTrips.push(second.statements.reduce((t, s) => t + s.roundTripMs, 0));
        for (const [key, run] of /** @type {const} */ ([
          ['cold', first],
          ['warm', second],
        ])) {
          /** @type {Map<string, { count: number, ms: number }>} */
          const sums = new Map();
          for (const statement of run.statements) {
            const kind = sums.get(describe(statement.sql)) ?? { count: 0, ms: 0 };
            kind.count++;
            kind.ms += statement.roundTripMs;
            sums.set(describe(statement.sql), kind);
          }
          for (const [what, { count, ms: total }] of sums) {
            const kind = stat.byKind.get(what) ?? { count, cold: [], warm: [] };
            kind[key].push(total);
            stat.byKind.set(what, kind);
          }
        }
        outcomeSets.set(way, JSON.stringify([first.outcomes, second.outcomes]));
        if (round === 0) fingerprints.set(way, JSON.stringify(await fingerprint(names.databaseUrl)));
        await drop(names);
      }
    }
    const rttNames = await clone(admin, seedNames.databaseName, 'applysql_rtt');
    databases.add(rttNames);
    const rtt = await roundTripCost(rttNames.databaseUrl);
    await drop(rttNames);

    const today = timed.today;
    const cell = (/** @type {Way} */ way, /** @type {'cold' | 'warm' | 'coldTrips' | 'warmTrips'} */ key) => {
      const value = median(timed[way][key]);
      return way === 'today' ? ms(value) : `${ms(value)} (${(value / median(today[key])).toFixed(2)}×)`;
    };
    const statementCell = (/** @type {Way} */ way) => [...new Set(timed[way].statements)].map((n) => n.toLocaleString('en-US')).join(' / ');
    const lines = [
      `### Today vs the two changes vs row by row: uninstrumented, median of ${ROUNDS} runs, each on a fresh copy after a CHECKPOINT (× today)`,
      '',
      '| measure | today | anti-join (placeholders) | anti-join + CTE (UPDATE + history) | row by row (baseline) |',
      '|---|---:|---:|---:|---:|',
      `| statements = round trips per batch (BEGIN, COMMIT included) | ${ways.map(statementCell).join(' | ')} |`,
      `| batch 1 (cold), ms | ${ways.map((w) => cell(w, 'cold')).join(' | ')} |`,
      `| batch 2 (warm), ms | ${ways.map((w) => cell(w, 'warm')).join(' | ')} |`,
      `| batch 1 in round trips, ms | ${ways.map((w) => cell(w, 'coldTrips')).join(' | ')} |`,
      `| batch 2 in round trips, ms | ${ways.map((w) => cell(w, 'warmTrips')).join(' | ')} |`,
      `| per message (warm), µs | ${ways.map((w) => ms((median(timed[w].warm) * 1000) / BATCH, 0)).join(' | ')} |`,
      '',
      `All runs (cold / warm), ms: ${ways.map((w) => `${w} ${timed[w].cold.map((v) => ms(v, 1)).join(', ')} / ${timed[w].warm.map((v) => ms(v, 1)).join(', ')}`).join('; ')}.`,
      `Profiled (auto_explain analyze, planner stats and statement logging on): today cold ${ms(cold.wallMs)} / warm ${ms(warm.wallMs)} ms, ` +
        `with both changes cold ${ms(fixedColdTotals.wallMs)} / warm ${ms(fixedWarmTotals.wallMs)} ms.`,
      `One round trip's fixed cost here (in a transaction, TypeORM + pg over loopback TCP, median of 200): ${ms(rtt.simple, 3)} ms for SELECT 1, ` +
        `${ms(rtt.extended, 3)} ms for SELECT $1::int (parse/bind/execute).`,
    ];
    /** @type {string[]} */
    const kinds = [];
    for (const way of ways) for (const what of timed[way].byKind.keys()) if (!kinds.includes(what)) kinds.push(what);
    lines.push(
      '',
      `#### Round trips by statement, uninstrumented (median of ${ROUNDS}; ms, cold / warm; ×n: statements of that kind in batch 1)`,
      '',
      `| statement | ${ways.join(' | ')} |`,
      `|---|${ways.map(() => '---:').join('|')}|`,
      ...kinds.map((what) => {
        const cells = ways.map((way) => {
          const kind = timed[way].byKind.get(what);
          if (!kind) return '';
          return `${ms(median(kind.cold))} / ${ms(median(kind.warm))}${kind.count > 1 ? ` (×${kind.count.toLocaleString('en-US')})` : ''}`;
        });
        return `| ${what} | ${cells.join(' | ')} |`;
      }),
      '',
    );
    const sameOutcomes = new Set(outcomeSets.values()).size === 1;
    const sameRows = new Set(fingerprints.values()).size === 1;
    const counts = /** @type {Record<string, string>} */ (JSON.parse(/** @type {string} */ ([...fingerprints.values()][0])));
    lines.push(
      `Same outcomes from every way: ${sameOutcomes ? 'yes' : 'NO'}; same rows after both batches (orders, history, inbox; ` +
        `times of writing and generated ids aside) in ${[...fingerprints.keys()].join(', ')}: ${sameRows ? 'yes' : 'NO'} ` +
        `(${counts.order_rows} orders, ${counts.history_rows} history lines, ${counts.inbox_rows} inbox rows). ` +
        `Whole run ${ms((performance.now() - started) / 1000, 1)} s; load at the end ${os.loadavg()[0]?.toFixed(2)}.`,
    );
    console.log(`\n${lines.join('\n')}\n`);
    if (!sameRows) for (const [way, print] of fingerprints) console.log(way, print);
    if (!sameOutcomes || !sameRows) process.exitCode = 1;
  } finally {
    await admin.end();
    await cleanAll();
  }
}

await main();
