import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, Redis } from 'ioredis';
import { Queue, QueueEvents, Worker } from 'bullmq';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { redisCommand, startRedisCluster, waitFor, type RedisCluster } from './support/redis-cluster.js';
import { startRedisSentinelSet, type RedisSentinelSet } from './support/redis-sentinel.js';
import { ADMIN_DATABASE_URL, startPgBouncer, type RunningPgBouncer } from './support/pgbouncer.js';

/**
 * The distributed parts the service may be deployed on (Redis Cluster, Redis Sentinel, PgBouncer
 * in transaction mode), each started by this file on its own ports and stopped by it, and driven
 * with plain clients (ioredis, BullMQ, pg): not the service. What works here is what the service
 * may rely on; the "breaks" cases pin down what it must avoid. See docs/notes/distributed-parts.md.
 *
 * Needs redis-server, redis-cli and pgbouncer: `bash .ci/install-tools.sh` installs them.
 * Does not import the service's code, so it says something even while src/ is mid-change.
 */

const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;

/** Every client a test opens, closed in afterAll whatever happened. */
const redisClients: (Redis | Cluster)[] = [];
function track<T extends Redis | Cluster>(client: T): T {
  client.on('error', () => undefined);
  redisClients.push(client);
  return client;
}
afterAll(() => {
  for (const client of redisClients) client.disconnect();
});

function clusterClient(cluster: RedisCluster, redisOptions: Record<string, unknown> = {}): Cluster {
  return track(new Cluster(cluster.nodes.slice(0, 3), { redisOptions, enableReadyCheck: true }));
}

/** Two keys whose slots are served by different masters (found by asking the cluster, not guessed). */
async function keysOnTwoShards(cluster: RedisCluster, base: string): Promise<[string, string]> {
  const first = await cluster.masterForKey(`${base}:0`);
  for (let i = 1; i < 50; i++) {
    const other = await cluster.masterForKey(`${base}:${i}`);
    if (other.masterId !== first.masterId) return [first.key, other.key];
  }
  throw new Error('50 keys all on one shard: the cluster is not sharded');
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
    }),
  ]);
}

/**
 * Closes a BullMQ object within a deadline; if a graceful close hangs (a known failure mode
 * right after a failover), drops its connections instead so the file still finishes.
 */
async function closeWithin(closable: { close(): Promise<void>; disconnect(): Promise<void> }, what: string, ms = 5_000): Promise<void> {
  try {
    await withTimeout(closable.close(), ms, `${what} to close`);
  } catch (error) {
    await withTimeout(closable.disconnect(), ms, `${what} to disconnect`).catch(() => undefined);
    throw error;
  }
}

describe('Redis Cluster: 3 masters, 1 replica each', () => {
  let cluster: RedisCluster;

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('serves keys of different slots from different masters, and the key-to-shard function agrees with the servers', async () => {
    expect(cluster.nodes).toHaveLength(6);
    expect(cluster.nodesEnv.split(',')).toHaveLength(6);
    const client = clusterClient(cluster);
    const [a, b] = await keysOnTwoShards(cluster, `topo-${run}`);
    await client.set(a, 'A');
    await client.set(b, 'B');
    expect(await client.get(a)).toBe('A');
    expect(await client.get(b)).toBe('B');

    const placeA = await cluster.masterForKey(a);
    const placeB = await cluster.masterForKey(b);
    expect(placeA.master.port).not.toBe(placeB.master.port);
    // Each master has its key, and refuses the other's with a redirection: the data is sharded.
    expect(await redisCommand(placeA.master, 'GET', a)).toBe('A');
    expect(await redisCommand(placeB.master, 'GET', b)).toBe('B');
    await expect(redisCommand(placeA.master, 'GET', b)).rejects.toThrow(/MOVED/);
  });

  it('refuses multi-key commands across slots; a {hash tag} puts keys in one slot', async () => {
    const client = clusterClient(cluster);
    const [a, b] = await keysOnTwoShards(cluster, `cross-${run}`);
    await expect(client.mget(a, b)).rejects.toThrow(/CROSSSLOT|same slot/i);
    await expect(client.eval("return redis.call('MGET', KEYS[1], KEYS[2])", 2, a, b)).rejects.toThrow(/CROSSSLOT|same slot/i);

    const tag = `{tag-${run}}`;
    await client.mset(`${tag}:x`, '1', `${tag}:y`, '2');
    expect(await client.mget(`${tag}:x`, `${tag}:y`)).toEqual(['1', '2']);
    expect((await cluster.masterForKey(`${tag}:x`)).slot).toBe((await cluster.masterForKey(`${tag}:y`)).slot);
  });

  it('runs BullMQ on the cluster with a {hash-tagged} prefix: Queue.add, Worker, QueueEvents', async () => {
    const prefix = `{ostest-${run}}`;
    const queue = new Queue('topology', { connection: clusterClient(cluster) });
    const taggedQueue = new Queue('topology', { connection: clusterClient(cluster), prefix });
    // A blocking worker connection must not give up on a command: maxRetriesPerRequest null.
    const worker = new Worker('topology', (job) => Promise.resolve({ doubled: (job.data as { n: number }).n * 2 }), {
      connection: clusterClient(cluster, { maxRetriesPerRequest: null }),
      prefix,
      drainDelay: 1,
    });
    // lastEventId '0': read the events stream from its start. With the default '$' an event
    // written before QueueEvents' first XREAD is in place is never seen (waitUntilReady only
    // waits for the connection), and waitUntilFinished can then time out on a finished job.
    const events = new QueueEvents('topology', {
      connection: clusterClient(cluster, { maxRetriesPerRequest: null }),
      prefix,
      lastEventId: '0',
    });
    try {
      // Without a hash tag the queue's keys (bull:topology:wait, …:meta, …) hash to many slots and
      // BullMQ's Lua scripts, which name all of them, are refused.
      await expect(queue.add('job', { n: 1 })).rejects.toThrow(/CROSSSLOT|same slot/i);

      await Promise.all([worker.waitUntilReady(), events.waitUntilReady()]);
      const completed = new Promise<unknown>((resolve) => worker.once('completed', (_job, result) => resolve(result)));
      const job = await taggedQueue.add('job', { n: 21 });
      expect(await withTimeout(completed, 10_000, 'the worker to complete the job')).toEqual({ doubled: 42 });
      expect(await withTimeout(job.waitUntilFinished(events, 10_000), 12_000, 'the job to finish')).toEqual({ doubled: 42 });
      expect(await taggedQueue.getJobCounts('completed')).toEqual({ completed: 1 });
      // Every key of the queue is on the one shard the tag picks.
      const shard = await cluster.masterForKey(prefix);
      const keys = (await redisCommand(shard.master, 'KEYS', `${prefix}:topology:*`)) as string[];
      expect(keys).toEqual(
        expect.arrayContaining([`${prefix}:topology:meta`, `${prefix}:topology:events`, `${prefix}:topology:completed`]),
      );
    } finally {
      await closeWithin(worker, 'the worker');
      await closeWithin(events, 'the queue events');
      await closeWithin(taggedQueue, 'the tagged queue');
      await closeWithin(queue, 'the untagged queue');
    }
  });

  it('spreads queues with different hash tags ({p0}, {p1}, …) over different shards', async () => {
    const tags = Array.from({ length: 6 }, (_, i) => `{p${i}-${run}}`);
    const places = await Promise.all(tags.map((tag) => cluster.masterForKey(`${tag}:orders:wait`)));
    const shards = new Set(places.map((place) => place.masterId));
    expect(shards.size).toBeGreaterThanOrEqual(2);

    // Take two tags on different shards and show BullMQ's keys really land there.
    const first = places[0];
    const otherIndex = places.findIndex((place) => place.masterId !== first.masterId);
    const chosen = [tags[0], tags[otherIndex]];
    const queues = chosen.map((prefix) => new Queue('orders', { connection: clusterClient(cluster), prefix }));
    try {
      await Promise.all(queues.map((queue) => queue.add('job', { ok: true })));
      for (const [i, prefix] of chosen.entries()) {
        const place = i === 0 ? first : places[otherIndex];
        expect(await redisCommand(place.master, 'EXISTS', `${prefix}:orders:meta`)).toBe(1);
        expect(await redisCommand(place.master, 'LLEN', `${prefix}:orders:wait`)).toBe(1);
      }
      expect(places[otherIndex].master.port).not.toBe(first.master.port);
    } finally {
      await Promise.all(queues.map((queue) => closeWithin(queue, 'a queue')));
    }
  });

  it('fails a killed master over to its replica; ioredis Cluster and a BullMQ worker follow; the old master rejoins as a replica', async () => {
    const client = clusterClient(cluster);
    // The queue's hash tag is the key's: both live on the master that is killed.
    const prefix = `{failover-${run}}`;
    const key = `${prefix}:plain`;
    await client.set(key, 'before');
    const queue = new Queue('survivor', { connection: clusterClient(cluster), prefix });
    const processed: string[] = [];
    const worker = new Worker('survivor', (job) => Promise.resolve(void processed.push(job.name)), {
      connection: clusterClient(cluster, { maxRetriesPerRequest: null }),
      prefix,
      drainDelay: 1,
    });
    worker.on('error', () => undefined);
    queue.on('error', () => undefined);
    try {
      await withTimeout(worker.waitUntilReady(), 10_000, 'the worker to be ready');
      await withTimeout(queue.add('before-crash', {}), 10_000, 'adding a job before the crash');
      await waitFor('the job before the crash', () => (processed.includes('before-crash') ? true : undefined), 10_000);
      await failOverAndBack();
      await withTimeout(queue.add('after-failover', {}), 10_000, 'adding a job after the failover');
      await waitFor(
        'the worker to process a job after the failover',
        () => (processed.includes('after-failover') ? true : undefined),
        15_000,
      );
    } finally {
      await closeWithin(worker, 'the worker');
      await closeWithin(queue, 'the queue');
    }
  });

  async function failOverAndBack(): Promise<void> {
    const client = clusterClient(cluster);
    const key = `{failover-${run}}:plain`;
    const before = await cluster.masterForKey(key);
    // Replication is asynchronous: make sure the replica has the write before the crash. WAIT
    // has no key, so on its own ioredis sends it to a random master, whose answer says nothing
    // about this write; in a pipeline with the write it goes down the same connection.
    const [[setError], [waitError, acked]] = (await withTimeout(
      client.pipeline().set(key, 'before').call('WAIT', 1, 2_000).exec(),
      10_000,
      'SET + WAIT',
    ))!;
    expect(setError ?? waitError).toBeNull();
    expect(acked).toBe(1);

    await cluster.killNode(before.master.port);
    const after = await waitFor(
      'a replica to take over the slot',
      async () => {
        const place = await cluster.masterForKey(key);
        return place.master.port !== before.master.port ? place : undefined;
      },
      15_000,
      100,
    );
    expect(after.master.port).not.toBe(before.master.port);
    // ioredis refreshes its slot map on the failed command (connection refused, then MOVED).
    expect(await withTimeout(client.get(key), 10_000, 'a read after the failover')).toBe('before');
    await withTimeout(client.set(key, 'after'), 10_000, 'a write after the failover');

    await cluster.restartNode(before.master.port);
    const rejoined = await redisCommand(before.master, 'ROLE');
    expect((rejoined as string[])[0]).toBe('slave');
    expect(await withTimeout(client.get(key), 10_000, 'a read after the old master rejoined')).toBe('after');
  }
});

describe('Redis Sentinel: primary, replica, 3 sentinels (quorum 2)', () => {
  let set: RedisSentinelSet;

  beforeAll(async () => {
    set = await startRedisSentinelSet({ name: `topo-${run}` });
  });
  afterAll(async () => {
    await set?.stop();
  });

  it('writes through the sentinels, WAIT 1 answers 1 on the writing connection, and survives kill -9 of the primary', async () => {
    expect(set.sentinelsEnv.split(',')).toHaveLength(3);
    const opts = { sentinels: set.sentinels, name: set.name, sentinelRetryStrategy: () => 100, retryStrategy: () => 100 };
    // Production-like: an offline queue and no retry limit, so commands wait for the new primary.
    const waiting = track(new Redis({ ...opts, maxRetriesPerRequest: null }));
    // The service's fail-fast kind (no offline queue, no retry): errors during the failover.
    const failFast = track(new Redis({ ...opts, enableOfflineQueue: false, maxRetriesPerRequest: 0 }));
    // Not here: `failoverDetector: true`. With ioredis 5.11.1 a +switch-master that arrives while
    // the client is already reconnecting (the primary crashed) aborts that reconnect and leaves the
    // client ended for good ("Connection is closed"): 2 tries in 5 of a repro here. See docs/notes.

    // BullMQ through the sentinels: a worker that must carry on after the failover.
    const queueConnection = track(new Redis({ ...opts, maxRetriesPerRequest: null }));
    const queue = new Queue('sentinel', { connection: queueConnection, prefix: `ostest-${run}` });
    const processed: string[] = [];
    const worker = new Worker('sentinel', (job) => Promise.resolve(void processed.push(job.name)), {
      connection: track(new Redis({ ...opts, maxRetriesPerRequest: null })),
      prefix: `ostest-${run}`,
      drainDelay: 1,
    });
    worker.on('error', () => undefined);
    queue.on('error', () => undefined);
    try {
      await sentinelScenario(waiting, failFast, queue, queueConnection, processed);
    } finally {
      await closeWithin(worker, 'the worker');
      await closeWithin(queue, 'the queue');
    }
  });

  async function sentinelScenario(
    waiting: Redis,
    failFast: Redis,
    queue: Queue,
    queueConnection: Redis,
    processed: string[],
  ): Promise<void> {
    const job = await queue.add('before-crash', {});
    // The Queue wrote through queueConnection: WAIT there covers the job (a durable enqueue).
    expect(await queueConnection.call('WAIT', 1, 1_000)).toBe(1);
    await waitFor('the worker to process a job before the crash', () => (processed.includes('before-crash') ? true : undefined), 10_000);
    const first = await set.primary();
    await waiting.set('k', 'v1');
    // WAIT counts replicas that acknowledged every write made *on this connection* so far.
    expect(await waiting.call('WAIT', 1, 1_000)).toBe(1);
    expect(
      await redisCommand(
        set.dataNodes.find((node) => node.port !== first.port)!,
        'GET',
        'k',
      ),
    ).toBe('v1');
    await waitFor('the fail-fast client to be ready', () => (failFast.status === 'ready' ? true : undefined), 5_000);
    expect(await failFast.get('k')).toBe('v1');

    const killedAt = Date.now();
    const killed = await set.killPrimary();
    expect(killed.port).toBe(first.port);
    // While there is no primary, a fail-fast command is refused at once instead of waiting.
    await waitFor('the fail-fast client to notice the crash', () => (failFast.status !== 'ready' ? true : undefined), 5_000, 10);
    await expect(failFast.get('k')).rejects.toThrow(/enableOfflineQueue|Stream isn't writeable|Connection is closed/);
    // Queued meanwhile; sent once ioredis has asked a sentinel for the new primary.
    const pending = waiting.set('k', 'v2');

    const promoted = await set.waitForFailover(20_000);
    const failoverMs = Date.now() - killedAt;
    expect(promoted.port).not.toBe(first.port);
    await withTimeout(pending, 15_000, 'the queued write');
    const connectedTo = Number(/tcp_port:(\d+)/.exec(String(await waiting.info('server')))![1]);
    expect(connectedTo).toBe(promoted.port);
    expect(await waiting.get('k')).toBe('v2');
    // The fail-fast client reconnects by itself too.
    expect(
      await waitFor(
        'the fail-fast client to reach the new primary',
        () => (failFast.status === 'ready' ? failFast.get('k') : undefined),
        10_000,
      ),
    ).toBe('v2');
    // The new primary has no replica left: WAIT says so (0) instead of pretending.
    expect(await waiting.call('WAIT', 1, 100)).toBe(0);
    // About 2.5 s here (1 s down-after, then election and promotion).
    expect(failoverMs).toBeLessThan(15_000);

    // The WAIT-acknowledged job survived the crash on the promoted replica.
    expect((await queue.getJob(job.id!))?.name).toBe('before-crash');
    await withTimeout(queue.add('after-failover', {}), 10_000, 'adding a job after the failover');
    await waitFor(
      'the worker to process a job after the failover',
      () => (processed.includes('after-failover') ? true : undefined),
      15_000,
    );
  }
});

describe('PgBouncer in transaction mode', () => {
  let bouncer: RunningPgBouncer;
  const databases = {
    main: `ordersync_test_topo_${run}`,
    prepared: `ordersync_test_topo_${run}_ps`,
    session: `ordersync_test_topo_${run}_sess`,
  };
  const clients: pg.Client[] = [];
  const pools: pg.Pool[] = [];

  /** A client through PgBouncer; each is a separate client-side session. */
  async function viaBouncer(database: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: bouncer.url(database) });
    client.on('error', () => undefined);
    clients.push(client);
    await client.connect();
    return client;
  }
  /** The first row of a query, typed: the tests read one value at a time. */
  async function one<T extends pg.QueryResultRow>(
    db: pg.Client | pg.Pool | pg.PoolClient,
    query: string | pg.QueryConfig,
    values?: unknown[],
  ): Promise<T> {
    const result = typeof query === 'string' ? await db.query<T>(query, values) : await db.query<T>(query);
    return result.rows[0];
  }
  async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  }

  beforeAll(async () => {
    bouncer = await startPgBouncer({ defaultPoolSize: 10 });
    await admin(async (client) => {
      for (const name of Object.values(databases)) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
    await Promise.all(pools.map((pool) => pool.end().catch(() => undefined)));
    await bouncer?.stop();
    await admin(async (client) => {
      for (const name of Object.values(databases)) await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    });
  });

  it('runs parameterized queries, transactions and pg_advisory_xact_lock', async () => {
    const pool = new pg.Pool({ connectionString: bouncer.url(databases.main), max: 20 });
    pools.push(pool);
    await pool.query('CREATE TABLE t (id int PRIMARY KEY, note text)');
    // Many clients, 10 server connections: PgBouncer queues them; parameterized queries use
    // the unnamed statement (Parse/Bind/Execute/Sync in one go) and are fine.
    await Promise.all(Array.from({ length: 40 }, (_, i) => pool.query('INSERT INTO t VALUES ($1, $2)', [i, `n${i}`])));
    expect((await one<{ n: number }>(pool, 'SELECT count(*)::int AS n FROM t')).n).toBe(40);

    const tx = await pool.connect();
    try {
      await tx.query('BEGIN');
      await tx.query('UPDATE t SET note = $1 WHERE id = 1', ['changed']);
      expect((await one<{ note: string }>(tx, 'SELECT note FROM t WHERE id = 1')).note).toBe('changed');
      await tx.query('ROLLBACK');
      await tx.query('BEGIN');
      // A transaction-scoped lock lives and dies with the transaction: safe through PgBouncer.
      await tx.query('SELECT pg_advisory_xact_lock($1)', [7_316_880]);
      const other = await one<{ got: boolean }>(pool, 'SELECT pg_try_advisory_xact_lock($1) AS got', [7_316_880]);
      expect(other.got).toBe(false);
      await tx.query('UPDATE t SET note = $1 WHERE id = 2', ['committed']);
      await tx.query('COMMIT');
    } finally {
      tx.release();
    }
    expect((await one<{ note: string }>(pool, 'SELECT note FROM t WHERE id = 1')).note).toBe('n1');
    expect((await one<{ note: string }>(pool, 'SELECT note FROM t WHERE id = 2')).note).toBe('committed');
    expect((await one<{ got: boolean }>(pool, 'SELECT pg_try_advisory_xact_lock($1) AS got', [7_316_880])).got).toBe(true);
  });

  it('breaks session advisory locks: the lock stays on a server connection that other clients get', async () => {
    // A fresh database: its pool starts with no server connection, so which one a client gets is known.
    const a = await viaBouncer(databases.session);
    const b = await viaBouncer(databases.session);
    const lockedBy = (await a.query<{ pid: number }>('SELECT pg_advisory_lock(42), pg_backend_pid() AS pid')).rows[0].pid;
    // b gets the same (idle) server connection, where the lock is held: it "gets" the lock too.
    await b.query('BEGIN');
    const got = (await b.query<{ got: boolean; pid: number }>('SELECT pg_try_advisory_lock(42) AS got, pg_backend_pid() AS pid')).rows[0];
    expect(got.pid).toBe(lockedBy);
    expect(got.got).toBe(true);
    // While b holds that connection, a runs elsewhere: its unlock finds no lock of its own.
    const unlocked = (await a.query<{ ok: boolean; pid: number }>('SELECT pg_advisory_unlock(42) AS ok, pg_backend_pid() AS pid')).rows[0];
    expect(unlocked.pid).not.toBe(lockedBy);
    expect(unlocked.ok).toBe(false);
    await b.query('COMMIT');
    // The lock outlives both clients' intent: it is still held by that server connection.
    const held = await admin((client) =>
      one<{ n: number }>(client, `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = $1`, [lockedBy]),
    );
    expect(held.n).toBeGreaterThan(0);
  });

  it('breaks named prepared statements and leaks session SET to other clients', async () => {
    const a = await viaBouncer(databases.prepared);
    const b = await viaBouncer(databases.prepared);
    const named = { name: 'order_by_id', text: 'SELECT $1::int AS n', values: [1] };
    const first = await one<{ n: number }>(a, named);
    expect(first.n).toBe(1);
    // b prepares the same name on the same (idle) server connection, where it already exists.
    await expect(b.query(named)).rejects.toMatchObject({ code: '42P05' }); // duplicate_prepared_statement
    // With b holding that connection, a's next use (pg only sends Bind/Execute the second time)
    // lands on another server connection, where the statement was never prepared.
    await b.query('BEGIN');
    await expect(a.query(named)).rejects.toMatchObject({ code: '26000' }); // invalid_sql_statement_name
    await b.query('ROLLBACK');

    // Session SET sticks to the server connection, not to the client that sent it. (PgBouncer
    // hands out the most recently released idle server connection first: a gets the one b just
    // released, and b gets it back.)
    await a.query(`SET statement_timeout = '4321ms'`);
    const seenByB = (await b.query<{ statement_timeout: string }>('SHOW statement_timeout')).rows[0].statement_timeout;
    expect(seenByB).toBe('4321ms');
    // SET LOCAL lasts for its own transaction only: the safe form.
    await b.query('BEGIN');
    await b.query(`SET LOCAL lock_timeout = '1234ms'`);
    expect((await one<{ lock_timeout: string }>(b, 'SHOW lock_timeout')).lock_timeout).toBe('1234ms');
    await b.query('COMMIT');
    expect((await one<{ lock_timeout: string }>(a, 'SHOW lock_timeout')).lock_timeout).toBe('0');
    await a.query('RESET statement_timeout');
  });

  it('runs TypeORM queries and transactions (TypeORM sends no named statements)', async () => {
    const dataSource = new DataSource({ type: 'postgres', url: bouncer.url(databases.main), extra: { max: 3 } });
    await dataSource.initialize();
    try {
      const rows = await dataSource.query<{ n: number }[]>('SELECT $1::int AS n', [7]);
      expect(rows[0].n).toBe(7);
      await dataSource.transaction(async (manager) => {
        await manager.query('INSERT INTO t VALUES ($1, $2)', [1000, 'typeorm']);
        await manager.query('SELECT pg_advisory_xact_lock($1)', [1]);
      });
      const runner = dataSource.createQueryRunner();
      try {
        await runner.startTransaction();
        await runner.query('UPDATE t SET note = $1 WHERE id = $2', ['rolled back', 1000]);
        await runner.rollbackTransaction();
      } finally {
        await runner.release();
      }
      expect((await dataSource.query<{ note: string }[]>('SELECT note FROM t WHERE id = $1', [1000]))[0].note).toBe('typeorm');
    } finally {
      await dataSource.destroy();
    }
  });

  it("refuses startup parameters it does not know, such as pg's statement_timeout option", async () => {
    const client = new pg.Client({ connectionString: bouncer.url(databases.main), statement_timeout: 5_000 });
    client.on('error', () => undefined);
    await expect(client.connect()).rejects.toThrow(/unsupported startup parameter: statement_timeout/);
    await client.end().catch(() => undefined);
    // application_name is one PgBouncer tracks itself: allowed.
    const named = new pg.Client({ connectionString: bouncer.url(databases.main), application_name: 'ordersync-topology' });
    clients.push(named);
    await named.connect();
    expect((await one<{ application_name: string }>(named, 'SHOW application_name')).application_name).toBe('ordersync-topology');
  });
});
