import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  freePorts,
  makeTempDir,
  parseInfo,
  redisCommand,
  removeTempDir,
  requireCommand,
  startRedisProcess,
  waitFor,
  type OwnedProcess,
  type RedisNode,
} from './redis-cluster.js';

/**
 * Real Redis Sentinel for tests: a primary, one replica and three sentinels (quorum 2), children
 * of the test process on free 127.0.0.1 ports, in a temp dir of their own. Timings are short
 * (`down-after-milliseconds` 1000, `failover-timeout` 3000) so a killed primary is replaced
 * within a few seconds instead of the production defaults' 30 s and 3 min.
 *
 * Sentinels are `redis-server FILE --sentinel`: the same binary, so no extra package is needed.
 */

export interface RedisSentinelSet {
  /** The three sentinels: what a client is given (`sentinels` in ioredis). */
  sentinels: RedisNode[];
  /** `host:port,host:port,host:port`: the form a `REDIS_SENTINELS`-style setting takes. */
  sentinelsEnv: string;
  /** The monitored master's name (`name` in ioredis). */
  name: string;
  /** The data nodes, primary first as started (the roles change on failover). */
  dataNodes: RedisNode[];
  /** The primary the sentinels report now. */
  primary(): Promise<RedisNode>;
  /** SIGKILL the current primary: no shutdown, no last replication, the crash sentinels exist for. */
  killPrimary(): Promise<RedisNode>;
  /** Waits until every live sentinel names a new primary (not the killed one) and that node says `role:master`. */
  waitForFailover(timeoutMs?: number): Promise<RedisNode>;
  /** Starts the killed node again as a replica of the current primary (as an operator brings a failed primary back). */
  restartAsReplica(node: RedisNode): Promise<void>;
  /** Kills every process and removes the temp dir. Safe to call twice, and after a failed start. */
  stop(): Promise<void>;
}

export interface RedisSentinelOptions {
  /** The master name sentinels monitor. */
  name?: string;
  /** How long the primary may be silent before a sentinel thinks it down. */
  downAfterMs?: number;
  /** Bounds each failover step; a failed attempt is retried after twice this. */
  failoverTimeoutMs?: number;
}

const START_TIMEOUT_MS = 20_000;

/** Sentinel answers to `SENTINEL MASTER`/`REPLICAS` are flat [key, value, key, value...] arrays. */
function pairs(reply: unknown): Record<string, string> {
  const list = reply as string[];
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) fields[list[i]] = String(list[i + 1]);
  return fields;
}

/** What one sentinel says the primary is. */
async function askSentinel(sentinel: RedisNode, name: string): Promise<RedisNode> {
  const reply = (await redisCommand(sentinel, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as [string, string] | null;
  if (!reply) throw new Error(`sentinel ${sentinel.port} does not know ${name}`);
  return { host: reply[0], port: Number(reply[1]) };
}

/**
 * Starts primary, replica (`--replicaof`) and three sentinels, and returns once the replica is
 * in sync (so `WAIT 1 <ms>` answers 1), and every sentinel sees the replica, sees the two other
 * sentinels and can reach a quorum (`SENTINEL CKQUORUM`), so a failover can start right away.
 */
export async function startRedisSentinelSet({
  name = 'ordersync',
  downAfterMs = 1_000,
  failoverTimeoutMs = 3_000,
}: RedisSentinelOptions = {}): Promise<RedisSentinelSet> {
  const redisServer = await requireCommand('redis-server');
  const [primaryPort, replicaPort, ...sentinelPorts] = await freePorts(5);
  const dataNodes: RedisNode[] = [primaryPort, replicaPort].map((port) => ({ host: '127.0.0.1', port }));
  const sentinels: RedisNode[] = sentinelPorts.map((port) => ({ host: '127.0.0.1', port }));
  const dir = await makeTempDir('redis-sentinel');
  const processes = new Map<number, OwnedProcess>();
  let killed: RedisNode | undefined;

  // prettier-ignore
  const dataArgs = (port: number) => [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--save', '',
    '--appendonly', 'no',
    '--dir', join(dir, String(port)),
    '--daemonize', 'no',
    // The first sync goes over the socket at once (the default waits 5 s for more replicas).
    '--repl-diskless-sync', 'yes',
    '--repl-diskless-sync-delay', '0',
  ];

  const stop = async () => {
    await Promise.all([...processes.values()].map((proc) => proc.kill()));
    processes.clear();
    await removeTempDir(dir);
  };

  const liveSentinels = () => sentinels.filter((sentinel) => processes.get(sentinel.port)?.alive());

  try {
    for (const node of dataNodes) await mkdir(join(dir, String(node.port)));
    processes.set(primaryPort, await startRedisProcess(redisServer, primaryPort, dataArgs(primaryPort), dir, 'sentinel-set primary'));
    processes.set(
      replicaPort,
      await startRedisProcess(
        redisServer,
        replicaPort,
        [...dataArgs(replicaPort), '--replicaof', '127.0.0.1', String(primaryPort)],
        dir,
        'sentinel-set replica',
      ),
    );
    // The replica must be attached before the sentinels start: a sentinel learns of replicas
    // from the primary's INFO, which it asks for at once and then only every 10 s.
    await waitFor(
      'the replica to be in sync with the primary',
      async () => {
        const replica = parseInfo(String(await redisCommand(dataNodes[1], 'INFO', 'replication')));
        const primary = parseInfo(String(await redisCommand(dataNodes[0], 'INFO', 'replication')));
        return replica.master_link_status === 'up' && primary.connected_slaves === '1' ? true : undefined;
      },
      START_TIMEOUT_MS,
    );

    for (const sentinel of sentinels) {
      // Sentinels rewrite their config file (state, discovered peers), so it lives in the temp dir.
      const file = join(dir, `sentinel-${sentinel.port}.conf`);
      await writeFile(
        file,
        [
          `port ${sentinel.port}`,
          'bind 127.0.0.1',
          'daemonize no',
          `dir ${dir}`,
          `sentinel monitor ${name} 127.0.0.1 ${primaryPort} 2`,
          `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
          `sentinel failover-timeout ${name} ${failoverTimeoutMs}`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      processes.set(sentinel.port, await startRedisProcess(redisServer, sentinel.port, [file, '--sentinel'], dir, 'sentinel'));
    }

    await waitFor(
      'every sentinel to see the replica and the other sentinels',
      async () => {
        for (const sentinel of sentinels) {
          const master = pairs(await redisCommand(sentinel, 'SENTINEL', 'MASTER', name));
          if (master['num-slaves'] !== '1') throw new Error(`sentinel ${sentinel.port}: ${master['num-slaves']} replicas`);
          if (master['num-other-sentinels'] !== String(sentinels.length - 1))
            throw new Error(`sentinel ${sentinel.port}: ${master['num-other-sentinels']} other sentinels`);
          const replicas = ((await redisCommand(sentinel, 'SENTINEL', 'REPLICAS', name)) as unknown[]).map(pairs);
          if (!replicas.some((replica) => replica.flags === 'slave' && replica['master-link-status'] === 'ok')) {
            throw new Error(`sentinel ${sentinel.port}: no healthy replica yet`);
          }
          await redisCommand(sentinel, 'SENTINEL', 'CKQUORUM', name);
        }
        return true;
      },
      START_TIMEOUT_MS,
      100,
    );
  } catch (error) {
    const logs = [...processes.entries()].map(([port, proc]) => `--- ${port}:\n${proc.output().slice(-1_000)}`).join('\n');
    await stop();
    throw new Error(`Redis Sentinel set did not start: ${(error as Error).message}\n${logs}`, { cause: error });
  }

  const primary = async (): Promise<RedisNode> => {
    let last: unknown;
    for (const sentinel of liveSentinels()) {
      try {
        return await askSentinel(sentinel, name);
      } catch (error) {
        last = error;
      }
    }
    throw new Error(`no sentinel answered: ${last instanceof Error ? last.message : 'no sentinel running'}`, { cause: last });
  };

  return {
    sentinels,
    sentinelsEnv: sentinels.map((sentinel) => `${sentinel.host}:${sentinel.port}`).join(','),
    name,
    dataNodes,
    primary,
    async killPrimary() {
      const current = await primary();
      const proc = processes.get(current.port);
      if (!proc?.alive()) throw new Error(`the primary ${current.port} is not a running process of this set`);
      await proc.kill('SIGKILL');
      killed = current;
      return current;
    },
    async waitForFailover(timeoutMs = 20_000) {
      if (!killed) throw new Error('killPrimary() first');
      const old = killed;
      return waitFor(
        `a failover away from ${old.host}:${old.port}`,
        async () => {
          const answers = await Promise.all(liveSentinels().map((sentinel) => askSentinel(sentinel, name)));
          const first = answers[0];
          if (!first || first.port === old.port) return undefined;
          if (!answers.every((answer) => answer.host === first.host && answer.port === first.port)) return undefined;
          const info = parseInfo(String(await redisCommand(first, 'INFO', 'replication')));
          return info.role === 'master' ? first : undefined;
        },
        timeoutMs,
        100,
      );
    },
    async restartAsReplica(node) {
      if (processes.get(node.port)?.alive()) throw new Error(`node ${node.port} is running`);
      const current = await primary();
      processes.set(
        node.port,
        await startRedisProcess(
          redisServer,
          node.port,
          [...dataArgs(node.port), '--replicaof', current.host, String(current.port)],
          dir,
          'sentinel-set replica (restarted)',
        ),
      );
      await waitFor(
        `node ${node.port} in sync with the primary ${current.port}`,
        async () => (parseInfo(String(await redisCommand(node, 'INFO', 'replication'))).master_link_status === 'up' ? true : undefined),
        START_TIMEOUT_MS,
      );
    },
    stop,
  };
}
