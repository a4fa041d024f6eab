// @ts-check
// The processes a scenario runs: the built service (through the harnesses' launcher,
// tools/lib/harness-service.mjs), a private redis-server, and a gate in front of the fake
// supplier API that can refuse connections while the fake keeps its counters.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { launchService } from '../../tools/lib/harness-service.mjs';
import { STOP_HANG_MS, messageOf, sleep } from './common.mjs';
import { reapWhileRunning, serviceMain } from './reaper.mjs';

/**
 * What a service process needs of its scenario (the Context): its environment, where to log,
 * whom to tell about lines and crashes.
 *
 * @typedef {object} ServiceHost
 * @property {AbortSignal} signal
 * @property {string} tmp a directory for the log files
 * @property {boolean} ending set once the scenario cleans up: exits are expected then
 * @property {string[]} crashes exits the suite did not cause
 * @property {(extra?: Record<string, string>) => Record<string, string>} serviceEnv
 * @property {(label: string, line: string) => void} onLogLine
 * @property {(message: string) => void} log
 * @property {() => void} throwIfAborted
 */

/**
 * @typedef {object} StopOutcome
 * @property {number | null} code
 * @property {NodeJS.Signals | null} signal
 * @property {number} ms
 * @property {boolean} forced killed after the timeout
 */

/**
 * The message of the last error printed by a dying process (an uncaught exception, a fatal log line).
 *
 * @param {string} log
 * @returns {string}
 */
export function lastErrorLine(log) {
  const lines = log.trimEnd().split('\n').slice(-60);
  const uncaught = lines.findIndex((l) => /^\s*throw er;|Unhandled 'error' event|^Error:|^\w*Error:|^error:/.test(l));
  if (uncaught >= 0) {
    const message = lines.slice(uncaught).find((l) => /^\w*[Ee]rror:/.test(l.trim()));
    const emitted = lines.slice(uncaught).find((l) => /Emitted 'error' event on/.test(l));
    if (message) return `${message.trim()}${emitted ? ` (${emitted.trim().replace(/ at:$/, '')})` : ''}`;
  }
  const fatal = [...lines].reverse().find((l) => l.includes('"level":"fatal"') || l.includes('"level":"error"'));
  return fatal ? (/"msg":"([^"]{0,200})/.exec(fatal)?.[1] ?? '') : '';
}

/**
 * A process of the built service that can be killed and started again with the same settings (a
 * fixed port is taken again, so clients keep their address). One that exits on its own is
 * recorded as a crash and started again after 1 s, as a supervisor would.
 */
export class ServiceProcess {
  /**
   * @param {ServiceHost} host
   * @param {{ label: string, role: string, port?: number, workerHttpPort?: number, env?: Record<string, string> }} options
   */
  constructor(host, { label, role, port = 0, workerHttpPort = 0, env = {} }) {
    this.host = host;
    this.label = label;
    this.role = role;
    this.requestedPort = port;
    /** ROLE=worker: the port of its /health and /metrics (0: none). */
    this.workerHttpPort = workerHttpPort;
    this.env = env;
    /** @type {number | null} */
    this.port = null;
    /** @type {import('../../tools/lib/harness-service.mjs').ServiceHandle | null} */
    this.handle = null;
    this.starts = 0;
    this.kills = 0;
    this.expectingExit = false;
    /** @type {Promise<unknown> | null} the restart after a crash */
    this.supervised = null;
  }

  get alive() {
    return this.handle !== null && this.handle.alive();
  }

  get pid() {
    return this.handle?.pid;
  }

  get baseUrl() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The worker's own /health and /metrics, when it has a port for them. */
  get workerUrl() {
    return this.workerHttpPort ? `http://127.0.0.1:${this.workerHttpPort}` : null;
  }

  /** @returns {Promise<this>} */
  async start() {
    const host = this.host;
    host.throwIfAborted();
    const env = host.serviceEnv({
      ROLE: this.role,
      PORT: String(this.requestedPort),
      ...(this.workerHttpPort ? { WORKER_HTTP_PORT: String(this.workerHttpPort) } : {}),
      ...this.env,
    });
    this.expectingExit = false;
    this.starts += 1;
    const logFile = fs.createWriteStream(path.join(host.tmp, `${this.label}.log`), { flags: 'a' });
    logFile.on('error', () => {});
    let handle;
    try {
      handle = await launchService({
        label: this.label,
        main: serviceMain(),
        env,
        startTimeoutMs: 60_000,
        outputLimit: 32_000,
        signal: host.signal,
        onSpawn: (child) => {
          logFile.write(`--- start #${this.starts} pid ${child.pid} at ${new Date().toISOString()}\n`);
          reapWhileRunning(child.pid, new Promise((resolve) => child.once('exit', resolve)));
        },
        onLine: (line) => {
          logFile.write(`${line}\n`);
          host.onLogLine(this.label, line);
        },
      });
    } catch (error) {
      logFile.end(`--- did not start: ${messageOf(error).split('\n')[0]}\n`);
      throw error;
    }
    this.handle = handle;
    this.port = handle.port;
    // 'close': the child's output is all in (the reason of a crash is its last lines).
    void handle.closed.then(({ code, signal }) => {
      logFile.end(`--- exit ${code ?? signal} at ${new Date().toISOString()}\n`);
      if (this.expectingExit || host.ending || this.handle !== handle) return;
      const crash = `${this.label} (pid ${handle.pid}) exited on its own with ${code ?? signal}`;
      const reason = lastErrorLine(handle.output());
      host.crashes.push(`${crash}${reason ? `: ${reason}` : ''}`);
      host.log(`!! ${crash}${reason ? `: ${reason}` : ''}; restarting it in 1 s, as a supervisor would`);
      // Like systemd or Kubernetes: the crash is recorded (the scenario fails), the process is
      // started again so that the rest of the run still measures what was lost.
      this.supervised = sleep(1_000, host.signal)
        .then(() => {
          if (!host.ending) return this.start();
        })
        .catch((error) => host.log(`could not restart ${this.label}: ${messageOf(error).split('\n')[0]}`));
    });
    return this;
  }

  /** kill -9: the crash no code can clean up after. */
  async kill9() {
    if (!this.handle || !this.alive) return;
    this.expectingExit = true;
    this.kills += 1;
    await this.handle.kill();
  }

  /**
   * SIGTERM, then SIGKILL after timeoutMs.
   *
   * @param {number} [timeoutMs]
   * @returns {Promise<StopOutcome>}
   */
  async stop(timeoutMs = STOP_HANG_MS) {
    if (!this.handle) return { code: null, signal: null, ms: 0, forced: false };
    this.expectingExit = true;
    return this.handle.stop(timeoutMs);
  }

  /** Starts again with the same settings. */
  async restart() {
    await this.start();
    return this;
  }

  /** The end of its output (for a report of what went wrong). */
  output() {
    return this.handle?.output() ?? '';
  }
}

/** A redis-server of the scenario's own (AOF, fsync always), that can be stopped and started from its directory. */
export class PrivateRedis {
  /**
   * @param {number} port
   * @param {string} dir
   */
  constructor(port, dir) {
    this.port = port;
    this.dir = dir;
    this.url = `redis://127.0.0.1:${port}`;
    /** @type {import('node:child_process').ChildProcess | null} */
    this.child = null;
    /** @type {Promise<{ code: number | null, signal: NodeJS.Signals | null }>} */
    this.exited = Promise.resolve({ code: null, signal: null });
    this.loadedFromAof = false;
    fs.mkdirSync(dir, { recursive: true });
  }

  get alive() {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start() {
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--dir',
      this.dir,
      '--save',
      '',
      '--daemonize',
      'no',
      '--loglevel',
      'notice',
    ];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    /** @type {Promise<{ code: number | null, signal: NodeJS.Signals | null }>} */
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    this.exited = exited;
    reapWhileRunning(child.pid, exited);
    let output = '';
    const ready = new Promise((resolve) => {
      const onData = (/** @type {Buffer} */ chunk) => {
        output += chunk;
        if (/Ready to accept connections/.test(output)) resolve('ready');
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
    });
    const outcome = await Promise.race([
      ready,
      exited.then((e) => `exited with ${e.code ?? e.signal}`),
      sleep(20_000).then(() => 'not ready within 20 s'),
    ]);
    if (outcome !== 'ready') {
      child.kill('SIGKILL');
      throw new Error(`redis-server: ${outcome}\n${output.slice(-2_000)}`);
    }
    this.loadedFromAof = /DB loaded from append only file|Done loading RDB|DB loaded from/.test(output);
    return this;
  }

  /** SHUTDOWN (fsyncs the AOF and exits). */
  async shutdown() {
    if (!this.alive) return;
    spawnSync('redis-cli', ['-p', String(this.port), 'SHUTDOWN'], { stdio: 'ignore', timeout: 10_000 });
    await Promise.race([this.exited, sleep(10_000)]);
    if (this.alive) await this.kill9();
  }

  async kill9() {
    if (!this.child || !this.alive) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Keys in the AOF-backed data set (for the report). */
  async dbsize() {
    const out = spawnSync('redis-cli', ['-p', String(this.port), 'DBSIZE'], { encoding: 'utf8', timeout: 5_000 });
    return Number(out.stdout.trim());
  }
}

/**
 * A TCP gate on a port of its own in front of another (the fake supplier API): open, it passes
 * connections through; closed, it does not listen at all (connections are refused, as from a
 * supplier that is down) and the connections it passed are cut. The fake behind it keeps its
 * state and counters, so side effects are still counted across the outage.
 */
export class TcpGate {
  /**
   * @param {number} targetPort
   * @param {number} port
   */
  constructor(targetPort, port) {
    this.targetPort = targetPort;
    this.port = port;
    /** @type {net.Server | null} */
    this.server = null;
    /** @type {Set<net.Socket>} */
    this.sockets = new Set();
    this.accepted = 0;
  }

  get open() {
    return this.server !== null;
  }

  /** Starts listening (again, on the same port). */
  async openGate() {
    if (this.server) return;
    const server = net.createServer((client) => {
      this.accepted += 1;
      const upstream = net.connect(this.targetPort, '127.0.0.1');
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.once('close', () => this.sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    // The port was ours a moment ago: retry briefly if the kernel still holds it.
    for (let attempt = 1; ; attempt++) {
      try {
        await new Promise((resolve, reject) => {
          server.once('error', reject);
          server.listen(this.port, '127.0.0.1', () => {
            server.off('error', reject);
            resolve(undefined);
          });
        });
        break;
      } catch (error) {
        if (attempt >= 50) throw error;
        await sleep(100);
      }
    }
    this.server = server;
  }

  /** Stops listening (new connections are refused) and cuts the connections it passed. */
  async closeGate() {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise((resolve) => server.close(() => resolve(undefined)));
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await closed;
  }
}
