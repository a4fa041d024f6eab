// @ts-check
// The one way the harnesses (test/support/processes.ts, the chaos suite, the benchmarks, the demo)
// start the built service as a process of its own: `node dist/main.js` with the environment they
// give, ready once it logs "ordersync started" (the port it listens on, or null for a worker
// without HTTP, read from that line), its output collected (bounded) and handed line by line to
// an optional callback, stopped with SIGTERM (SIGKILL after a timeout) or killed with SIGKILL.
//
// Plain ESM with JSDoc types: TypeScript checks it (// @ts-check) and the TS tests import it typed.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (the service's working directory by default). */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The built service's entry point in this checkout. */
export const SERVICE_MAIN = path.join(REPO_ROOT, 'dist', 'main.js');
/** What the service logs once it serves (or, for a worker, runs its processors). */
export const STARTED_MESSAGE = 'ordersync started';

const DEFAULT_START_TIMEOUT_MS = 60_000;
const DEFAULT_STOP_TIMEOUT_MS = 30_000;
const DEFAULT_OUTPUT_LIMIT = 200_000;
/** A line longer than this without a newline is handed over as it is. */
const MAX_LINE = 1_000_000;

/**
 * @typedef {import('node:child_process').ChildProcess} ChildProcess
 */

/**
 * @typedef {object} LaunchOptions
 * @property {Record<string, string | undefined>} env The child's whole environment: nothing is
 *   inherited (spread `process.env`, or {@link minimalEnv}, into it when that is wanted).
 * @property {string} [main] The entry point; default {@link SERVICE_MAIN} (the chaos suite passes its dist snapshot's).
 * @property {string[]} [nodeArgs] Node options before the entry point, e.g. `['--import', watchdogUrl]`.
 * @property {string} [cwd] Working directory; default {@link REPO_ROOT}.
 * @property {boolean} [detached] Its own process group, so that Ctrl-C in a terminal reaches only the parent.
 * @property {number} [startTimeoutMs] How long to wait for the started line (default 60000); then SIGKILL and reject.
 * @property {number} [outputLimit] Characters of output kept (default 200000); past it the older half is dropped.
 * @property {(line: string, stream: 'stdout' | 'stderr') => void} [onLine] Every line of output, as it comes (without its newline).
 * @property {(child: ChildProcess) => void} [onSpawn] Called right after the spawn, before the start is awaited
 *   (for registering the pid with a reaper).
 * @property {AbortSignal} [signal] Aborting it while the service starts kills the child and rejects.
 * @property {string} [label] Names the process in error messages (default "service").
 */

/**
 * @typedef {object} ServiceExit
 * @property {number | null} code The exit code, null when a signal ended it.
 * @property {NodeJS.Signals | null} signal The signal that ended it, if one did.
 * @property {string} [error] Why it could not be run at all (spawn error), if so.
 */

/**
 * @typedef {object} StopResult
 * @property {number | null} code
 * @property {NodeJS.Signals | null} signal
 * @property {number} ms How long the stop took (0 when it had exited already).
 * @property {boolean} forced Whether it was still running after the timeout and got SIGKILL.
 */

/**
 * @typedef {object} ServiceHandle
 * @property {ChildProcess} child
 * @property {number} pid
 * @property {number | null} port The HTTP port from the started line; null for a worker without HTTP.
 * @property {Record<string, unknown>} started The started line's fields (role, port, …).
 * @property {() => string} output What it wrote so far, stdout and stderr interleaved (the last `outputLimit` characters at most).
 * @property {() => boolean} alive Whether it is still running.
 * @property {Promise<ServiceExit>} exited Settles when the process has exited.
 * @property {Promise<ServiceExit>} closed Settles when it has exited and all of its output is read (for the last lines of a crash).
 * @property {(timeoutMs?: number) => Promise<StopResult>} stop SIGTERM and wait; SIGKILL after `timeoutMs` (default 30000).
 * @property {() => Promise<ServiceExit>} kill SIGKILL and wait: the crash no code can clean up after.
 */

/** The service did not start: it exited first, did not log its started line in time, or the start was aborted. */
export class ServiceStartError extends Error {
  /**
   * @param {string} message
   * @param {'exited' | 'timeout' | 'aborted'} reason
   * @param {string} output the end of what it wrote
   */
  constructor(message, reason, output) {
    super(message);
    this.name = 'ServiceStartError';
    this.reason = reason;
    this.output = output;
  }
}

/**
 * PATH and HOME of this process: the least a child needs, for an environment built from scratch.
 *
 * @returns {Record<string, string>}
 */
export function minimalEnv() {
  return { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' };
}

/**
 * Reads the port from a started line: a number, or null (no HTTP, or not said).
 *
 * @param {Record<string, unknown>} fields
 * @returns {number | null}
 */
function portOf(fields) {
  const port = fields.port;
  if (typeof port === 'number' && Number.isInteger(port) && port > 0) return port;
  if (typeof port === 'string' && /^\d+$/.test(port) && Number(port) > 0) return Number(port);
  return null;
}

/**
 * The fields of a started line (JSON from pino; a line that is not JSON gives what a regex finds).
 *
 * @param {string} line
 * @returns {Record<string, unknown>}
 */
function startedFields(line) {
  try {
    const parsed = JSON.parse(line);
    if (parsed && typeof parsed === 'object') return /** @type {Record<string, unknown>} */ (parsed);
  } catch {
    // not JSON
  }
  // JSON inside another line, or LOG_FORMAT=pretty's `port=1234`.
  const match = /"port":(\d+|null)|\bport=(\d+|null)\b/.exec(line);
  const port = match ? (match[1] ?? match[2]) : 'null';
  return { msg: STARTED_MESSAGE, port: port !== 'null' ? Number(port) : null };
}

/**
 * Starts `node dist/main.js` (or `options.main`) with `options.env` and resolves once it logged
 * "ordersync started". Rejects with a {@link ServiceStartError} (the child killed) when it exits
 * first, takes longer than `startTimeoutMs`, or `signal` is aborted.
 *
 * @param {LaunchOptions} options
 * @returns {Promise<ServiceHandle>}
 */
export async function launchService(options) {
  const label = options.label ?? 'service';
  const limit = options.outputLimit ?? DEFAULT_OUTPUT_LIMIT;
  options.signal?.throwIfAborted();
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.main ?? SERVICE_MAIN], {
    cwd: options.cwd ?? REPO_ROOT,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });

  let output = '';
  /** @type {ServiceExit | null} */
  let exitInfo = null;
  /** @type {((line: string) => void) | null} */
  let onStartedLine = null;
  /** @type {string | null} */
  let startedLine = null;

  /** @type {(exit: ServiceExit) => void} */
  let resolveExited = () => undefined;
  /** @type {Promise<ServiceExit>} */
  const exited = new Promise((resolve) => (resolveExited = resolve));
  /** @type {(exit: ServiceExit) => void} */
  let resolveClosed = () => undefined;
  /** @type {Promise<ServiceExit>} */
  const closed = new Promise((resolve) => (resolveClosed = resolve));

  /** @param {ServiceExit} exit */
  const onExit = (exit) => {
    if (exitInfo) return;
    exitInfo = exit;
    resolveExited(exit);
  };
  child.once('exit', (code, signal) => onExit({ code, signal }));
  child.once('error', (error) => {
    onExit({ code: null, signal: null, error: error.message });
    resolveClosed({ code: null, signal: null, error: error.message });
  });
  child.once('close', (code, signal) => resolveClosed(exitInfo ?? { code, signal }));

  /**
   * @param {import('node:stream').Readable | null} stream
   * @param {'stdout' | 'stderr'} name
   */
  const read = (stream, name) => {
    if (!stream) return;
    let partial = '';
    /** @param {string} line */
    const emit = (line) => {
      if (startedLine === null && line.includes(STARTED_MESSAGE)) {
        startedLine = line;
        onStartedLine?.(line);
      }
      options.onLine?.(line, name);
    };
    stream.setEncoding('utf8');
    stream.on('data', (/** @type {string} */ chunk) => {
      output += chunk;
      if (output.length > limit) output = output.slice(-Math.floor(limit / 2));
      partial += chunk;
      let i;
      while ((i = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, i);
        partial = partial.slice(i + 1);
        emit(line);
      }
      if (partial.length > MAX_LINE) {
        emit(partial);
        partial = '';
      }
    });
    stream.on('end', () => {
      if (partial) emit(partial);
      partial = '';
    });
  };
  read(child.stdout, 'stdout');
  read(child.stderr, 'stderr');
  options.onSpawn?.(child);

  const alive = () => exitInfo === null && child.exitCode === null && child.signalCode === null;
  const tail = () => output.slice(-3_000);

  const startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  /** @type {(() => void) | undefined} */
  let onAbort;
  /** @type {{ kind: 'started', line: string } | { kind: 'exited', exit: ServiceExit } | { kind: 'timeout' } | { kind: 'aborted' }} */
  const outcome = await new Promise((resolve) => {
    if (startedLine !== null) return resolve({ kind: 'started', line: startedLine });
    onStartedLine = (line) => resolve({ kind: 'started', line });
    exited.then((exit) => resolve({ kind: 'exited', exit }));
    timer = setTimeout(() => resolve({ kind: 'timeout' }), startTimeoutMs);
    onAbort = () => resolve({ kind: 'aborted' });
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
  clearTimeout(timer);
  if (onAbort) options.signal?.removeEventListener('abort', onAbort);
  onStartedLine = null;

  if (outcome.kind !== 'started') {
    if (alive()) child.kill('SIGKILL');
    // The last lines say why it died: wait (briefly) for them.
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
    const why =
      outcome.kind === 'exited'
        ? `exited with ${outcome.exit.error ?? outcome.exit.code ?? outcome.exit.signal} before starting`
        : outcome.kind === 'timeout'
          ? `did not log "${STARTED_MESSAGE}" within ${startTimeoutMs / 1000} s`
          : 'start aborted';
    throw new ServiceStartError(`${label} ${why}:\n${tail()}`, outcome.kind, tail());
  }

  const started = startedFields(outcome.line);
  return {
    child,
    pid: /** @type {number} */ (child.pid),
    port: portOf(started),
    started,
    output: () => output,
    alive,
    exited,
    closed,
    async stop(timeoutMs = DEFAULT_STOP_TIMEOUT_MS) {
      if (!alive()) {
        const exit = await exited;
        return { code: exit.code, signal: exit.signal, ms: 0, forced: false };
      }
      const t0 = performance.now();
      let forced = false;
      child.kill('SIGTERM');
      const killTimer = setTimeout(() => {
        forced = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      const exit = await exited;
      clearTimeout(killTimer);
      return { code: exit.code, signal: exit.signal, ms: performance.now() - t0, forced };
    },
    async kill() {
      if (alive()) child.kill('SIGKILL');
      return exited;
    },
  };
}
