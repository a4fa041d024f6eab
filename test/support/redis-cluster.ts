import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/**
 * Real Redis Cluster for tests: a few `redis-server --cluster-enabled yes` processes, children
 * of the test process, in a temp dir of their own, joined with `redis-cli --cluster create`.
 * Nothing is shared with the machine's Redis on 6379, so a test may kill nodes at will.
 *
 * This file also holds the small process and Redis helpers that `redis-sentinel.ts` uses.
 */

export interface RedisNode {
  host: string;
  port: number;
}

export const INSTALL_HINT = 'run `bash .ci/install-tools.sh` (it installs what the test topologies need with apt-get)';

/** Seconds are what a 2-core CI machine can spare: every wait in these helpers has a deadline. */
const START_TIMEOUT_MS = 20_000;

// ---------------------------------------------------------------------------------------------
// Generic helpers (shared with redis-sentinel.ts)
// ---------------------------------------------------------------------------------------------

/**
 * `count` distinct TCP ports nothing listens on. All are held open together before any is
 * released, so the OS cannot hand the same port out twice (one `freePort()` after another can).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
    }
    return servers.map((server) => (server.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/** Polls until `check` returns a value other than undefined; fails after `timeoutMs` with the last error. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const reason = last instanceof Error ? last.message : last === undefined ? '' : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${reason ? `: ${reason}` : ''}`, { cause: last });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** The path of a command, or a clear error naming the install script when it is not installed. */
export async function requireCommand(command: string, extraDirs: string[] = ['/usr/sbin', '/sbin']): Promise<string> {
  if (!/^[\w.-]+$/.test(command)) throw new Error(`not a command name: ${command}`);
  const path = [...(process.env.PATH ?? '').split(':'), ...extraDirs].filter(Boolean).join(':');
  return new Promise((resolve, reject) => {
    execFile('sh', ['-c', `command -v ${command}`], { env: { ...process.env, PATH: path } }, (error, stdout) => {
      const found = stdout.trim();
      if (error || !found) reject(new Error(`\`${command}\` is not installed: ${INSTALL_HINT}`));
      else resolve(found);
    });
  });
}

/**
 * A child process the test owns: its output is kept (the tail) for error messages, and it is
 * killed when the test process exits by any path, so a failed or interrupted run leaves none behind.
 */
export interface OwnedProcess {
  child: ChildProcess;
  output(): string;
  alive(): boolean;
  /** Sends `signal` (SIGKILL by default) and resolves once the process has exited. */
  kill(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

const owned = new Set<ChildProcess>();
const ownedDirs = new Set<string>();
let exitHookInstalled = false;

function killOwned(): void {
  for (const child of owned) child.kill('SIGKILL');
  for (const dir of ownedDirs) rmSync(dir, { recursive: true, force: true });
}

/** A temp dir (under the OS temp dir) that is removed on stop, and also if the test process exits or is interrupted first. */
export async function makeTempDir(label: string): Promise<string> {
  installExitHook();
  const dir = await mkdtemp(join(tmpdir(), `ordersync-${label}-`));
  ownedDirs.add(dir);
  return dir;
}

/** Removes a dir made by makeTempDir, and forgets it. */
export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  ownedDirs.delete(dir);
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: a plain SIGKILL is all that can be done there.
  process.on('exit', killOwned);
  // A signal's default action ends the process without 'exit' handlers, which would orphan the
  // servers (a Ctrl-C, or the runner stopping a worker on timeout). Kill them, then let the
  // signal do what it would have done: re-raise it unless someone else handles it.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killOwned();
      process.off(signal, onSignal);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/** Starts `command` as an owned child (see OwnedProcess); `uid`/`gid` run it as another user when we are root. */
export function spawnOwned(
  command: string,
  args: string[],
  options: { cwd?: string; uid?: number; gid?: number; env?: NodeJS.ProcessEnv } = {},
): OwnedProcess {
  installExitHook();
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  owned.add(child);
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 40_000) output = output.slice(-20_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      owned.delete(child);
      resolve();
    });
    // A command that cannot be started at all emits 'error' and no 'exit'.
    child.once('error', (error) => {
      output += `\n[spawn error] ${error.message}`;
      owned.delete(child);
      resolve();
    });
  });
  const alive = () => child.exitCode === null && child.signalCode === null && owned.has(child);
  return {
    child,
    output: () => output,
    alive,
    async kill(signal: NodeJS.Signals = 'SIGKILL', graceMs = 3_000) {
      if (!alive()) return;
      child.kill(signal);
      const timer = signal === 'SIGKILL' ? undefined : setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * One command on a short-lived connection that never retries or queues: a probe must fail at
 * once when the node is down, not wait for it (ioredis's defaults would queue and reconnect).
 */
export async function redisCommand(node: RedisNode, command: string, ...args: (string | number)[]): Promise<unknown> {
  const client = new Redis({
    host: node.host,
    port: node.port,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1_000,
    commandTimeout: 5_000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await client.call(command, ...args);
  } finally {
    client.disconnect();
  }
}

/** `INFO`/`CLUSTER INFO` text as key → value. */
export function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return fields;
}

/** Starts `redis-server` with `args` and waits until it answers PING; fails with its output if it exits first. */
export async function startRedisProcess(
  redisServer: string,
  port: number,
  args: string[],
  cwd: string,
  what: string,
): Promise<OwnedProcess> {
  const proc = spawnOwned(redisServer, args, { cwd });
  try {
    await waitFor(
      `${what} on port ${port} to answer PING`,
      async () => {
        if (!proc.alive()) throw new Error(`${what} exited:\n${proc.output().slice(-2_000)}`);
        return (await redisCommand({ host: '127.0.0.1', port }, 'PING')) === 'PONG' ? true : undefined;
      },
      START_TIMEOUT_MS,
    );
  } catch (error) {
    await proc.kill();
    throw new Error(`${(error as Error).message}\n${proc.output().slice(-2_000)}`, { cause: error });
  }
  return proc;
}

// ---------------------------------------------------------------------------------------------
// The cluster
// ---------------------------------------------------------------------------------------------

export interface RedisClusterOptions {
  /** Masters, each serving an equal share of the 16384 slots. At least 3 (redis-cli refuses fewer). */
  masters?: number;
  /** Replicas of each master; with 1 or more a killed master fails over to its replica. */
  replicasPerMaster?: number;
  /** `cluster-node-timeout`: how long a node may be unreachable before it is failed (and fails over). */
  nodeTimeoutMs?: number;
}

export interface RedisCluster {
  /** Every node, masters and replicas alike, in start order. */
  nodes: RedisNode[];
  /** `host:port,host:port,...`: the form a `REDIS_CLUSTER_NODES`-style setting takes. */
  nodesEnv: string;
  /** The master that serves `key`'s slot right now (asks a live node). */
  masterForKey(key: string): Promise<KeyPlacement>;
  /** SIGKILL one node (no shutdown, no goodbye to the cluster). */
  killNode(port: number): Promise<void>;
  /** Starts a killed node again with its own nodes.conf (same node id) and waits for `cluster_state:ok`. */
  restartNode(port: number): Promise<void>;
  /** Waits until every live node says `cluster_state:ok` with all slots served. */
  waitUntilHealthy(timeoutMs?: number): Promise<void>;
  /** Kills every node and removes the temp dir. Safe to call twice, and after a failed start. */
  stop(): Promise<void>;
}

export interface KeyPlacement {
  key: string;
  slot: number;
  master: RedisNode;
  /** `CLUSTER SHARDS`' master node id, to tell shards apart even across a failover. */
  masterId: string;
}

/**
 * Which master serves `key`: `CLUSTER KEYSLOT` gives the slot, `CLUSTER SLOTS` the owner of the
 * range holding it. `seed` is any live node of the cluster. This is the server's own answer,
 * independent of any client's slot cache, so a test can prove where a key (or a BullMQ queue,
 * through its hash tag) really lives.
 */
export async function masterForKey(seed: RedisNode, key: string): Promise<KeyPlacement> {
  const slot = Number(await redisCommand(seed, 'CLUSTER', 'KEYSLOT', key));
  const ranges = (await redisCommand(seed, 'CLUSTER', 'SLOTS')) as [number, number, [string, number, string, ...unknown[]], ...unknown[]][];
  for (const [start, end, master] of ranges) {
    if (slot >= start && slot <= end) return { key, slot, master: { host: master[0], port: Number(master[1]) }, masterId: master[2] };
  }
  throw new Error(`no master serves slot ${slot} (key ${key}) according to ${seed.host}:${seed.port}`);
}

/**
 * Starts a cluster of `masters * (1 + replicasPerMaster)` nodes on free 127.0.0.1 ports and
 * returns once every node reports `cluster_state:ok`, all 16384 slots are served, every node
 * knows every other, and every replica is in sync with its master. On any failure on the way
 * it stops what it started before rethrowing.
 */
export async function startRedisCluster({
  masters = 3,
  replicasPerMaster = 0,
  nodeTimeoutMs = 2_000,
}: RedisClusterOptions = {}): Promise<RedisCluster> {
  if (masters < 3) throw new Error('a Redis Cluster needs at least 3 masters (redis-cli --cluster create refuses fewer)');
  const redisServer = await requireCommand('redis-server');
  const redisCli = await requireCommand('redis-cli');
  const total = masters * (1 + replicasPerMaster);
  // Each node needs a client port and a cluster bus port. The bus port is set explicitly
  // (`cluster-port`) rather than left at port + 10000, which may be taken or above 65535.
  const ports = await freePorts(total * 2);
  const nodes: RedisNode[] = ports.slice(0, total).map((port) => ({ host: '127.0.0.1', port }));
  const busPort = new Map(nodes.map((node, i) => [node.port, ports[total + i]]));
  const dir = await makeTempDir('redis-cluster');
  const processes = new Map<number, OwnedProcess>();
  let stopped = false;

  // prettier-ignore
  const argsFor = (port: number) => [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--cluster-enabled', 'yes',
    '--cluster-config-file', `nodes-${port}.conf`,
    '--cluster-port', String(busPort.get(port)),
    '--cluster-node-timeout', String(nodeTimeoutMs),
    '--save', '',
    '--appendonly', 'no',
    '--dir', dir,
    '--daemonize', 'no',
    // Replicas sync over the socket at once (the default waits 5 s for more replicas to join).
    '--repl-diskless-sync', 'yes',
    '--repl-diskless-sync-delay', '0',
  ];

  const live = () => nodes.filter((node) => processes.get(node.port)?.alive());

  const waitUntilHealthy = async (timeoutMs = START_TIMEOUT_MS) => {
    await waitFor(
      'cluster_state:ok on every node',
      async () => {
        const up = live();
        for (const node of up) {
          const info = parseInfo(String(await redisCommand(node, 'CLUSTER', 'INFO')));
          if (info.cluster_state !== 'ok') throw new Error(`${node.port}: cluster_state:${info.cluster_state}`);
          if (info.cluster_slots_ok !== '16384') throw new Error(`${node.port}: cluster_slots_ok:${info.cluster_slots_ok}`);
          if (Number(info.cluster_known_nodes) < total)
            throw new Error(`${node.port}: knows ${info.cluster_known_nodes} of ${total} nodes`);
          const replication = parseInfo(String(await redisCommand(node, 'INFO', 'replication')));
          if (replication.role === 'slave' && replication.master_link_status !== 'up')
            throw new Error(`${node.port}: replica link ${replication.master_link_status}`);
        }
        return true;
      },
      timeoutMs,
      100,
    );
  };

  const stop = async () => {
    stopped = true;
    await Promise.all([...processes.values()].map((proc) => proc.kill()));
    processes.clear();
    await removeTempDir(dir);
  };

  try {
    await Promise.all(
      nodes.map(async (node) => {
        processes.set(node.port, await startRedisProcess(redisServer, node.port, argsFor(node.port), dir, `cluster node`));
      }),
    );
    const createArgs = ['--cluster', 'create', ...nodes.map((node) => `${node.host}:${node.port}`), '--cluster-yes'];
    if (replicasPerMaster > 0) createArgs.push('--cluster-replicas', String(replicasPerMaster));
    await new Promise<void>((resolve, reject) => {
      execFile(redisCli, createArgs, { timeout: START_TIMEOUT_MS }, (error, stdout, stderr) => {
        if (error)
          reject(new Error(`redis-cli --cluster create failed: ${error.message}\n${stdout.slice(-2_000)}\n${stderr.slice(-2_000)}`));
        else resolve();
      });
    });
    await waitUntilHealthy();
  } catch (error) {
    const logs = [...processes.entries()].map(([port, proc]) => `--- node ${port}:\n${proc.output().slice(-1_000)}`).join('\n');
    await stop();
    throw new Error(`Redis Cluster did not start: ${(error as Error).message}\n${logs}`, { cause: error });
  }

  return {
    nodes,
    nodesEnv: nodes.map((node) => `${node.host}:${node.port}`).join(','),
    waitUntilHealthy,
    async masterForKey(key: string) {
      const seed = live()[0];
      if (!seed) throw new Error('no cluster node is running');
      return masterForKey(seed, key);
    },
    async killNode(port: number) {
      const proc = processes.get(port);
      if (!proc) throw new Error(`no cluster node on port ${port}`);
      await proc.kill('SIGKILL');
    },
    async restartNode(port: number) {
      if (stopped) throw new Error('the cluster was stopped');
      const proc = processes.get(port);
      if (!proc) throw new Error(`no cluster node on port ${port}`);
      if (proc.alive()) throw new Error(`cluster node ${port} is still running`);
      processes.set(port, await startRedisProcess(redisServer, port, argsFor(port), dir, 'cluster node'));
      await waitUntilHealthy();
    },
    stop,
  };
}
