// @ts-check
// What a scenario watches while it runs: samplers in the background, readiness, the backlog
// health, queue depths and a process's Prometheus counters.
import { httpJson, messageOf, sleep } from './common.mjs';

/**
 * @template T
 * @typedef {{ t: number, value?: T, error?: string }} Sample
 */

/**
 * @template T
 * @typedef {object} Sampler
 * @property {Sample<T>[]} samples
 * @property {() => Promise<Sample<T>[]>} stop
 */

/**
 * Polls fn every intervalMs in the background until stopped; keeps each sample with its time (performance.now()).
 *
 * @template T
 * @param {{ signal: AbortSignal }} ctx
 * @param {number} intervalMs
 * @param {() => Promise<T>} fn
 * @returns {Sampler<T>}
 */
export function sampler(ctx, intervalMs, fn) {
  /** @type {Sample<T>[]} */
  const samples = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped && !ctx.signal.aborted) {
      const t = performance.now();
      try {
        samples.push({ t, value: await fn() });
      } catch (error) {
        samples.push({ t, error: messageOf(error) });
      }
      await sleep(intervalMs).catch(() => undefined);
    }
  })();
  return {
    samples,
    async stop() {
      stopped = true;
      await loop;
      return samples;
    },
  };
}

/**
 * @typedef {object} Health
 * @property {number} status
 * @property {string[]} down the checks that are down
 * @property {number} ms
 */

/**
 * A Terminus health route: its status and which checks are down.
 *
 * @param {string} url
 * @returns {Promise<Health>}
 */
export async function health(url) {
  const answer = await httpJson('GET', url, { timeoutMs: 3_000 });
  const down = answer.body?.error ? Object.keys(answer.body.error) : [];
  return { status: answer.status, down, ms: answer.ms };
}

/** @param {string} baseUrl */
export const readiness = (baseUrl) => health(`${baseUrl}/health/ready`);

/** @param {string} baseUrl */
export const backlogHealth = (baseUrl) => health(`${baseUrl}/health/backlog`);

/**
 * @typedef {object} QueueDepth
 * @property {string} name
 * @property {number} waiting
 * @property {number} active
 * @property {number} delayed
 * @property {number} failed
 * @property {number} deadLettered
 * @property {number | null} oldestWaitingAgeMs
 */

/**
 * GET /queues, by queue name (work queues and their `<queue>-dead` dead-letter queues).
 *
 * @param {string} baseUrl
 * @returns {Promise<Record<string, QueueDepth>>}
 */
export async function queueDepths(baseUrl) {
  const answer = await httpJson('GET', `${baseUrl}/queues`, { timeoutMs: 3_000 });
  if (answer.status !== 200) throw new Error(`/queues answered ${answer.status}`);
  if (!Array.isArray(answer.body?.queues)) throw new Error(`/queues answered no queues: ${answer.text.slice(0, 200)}`);
  return Object.fromEntries(answer.body.queues.map((/** @type {QueueDepth} */ q) => [q.name, q]));
}

/**
 * A process's Prometheus counters: the sum of every series of `name` whose labels include `labels`.
 *
 * @param {string} text the /metrics answer
 * @param {string} name
 * @param {Record<string, string>} [labels]
 * @returns {number}
 */
export function metricSum(text, name, labels = {}) {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(match[4]);
  }
  return sum;
}

/**
 * GET /metrics of a process (text), or null when it does not answer.
 *
 * @param {string | null} baseUrl
 * @returns {Promise<string | null>}
 */
export async function metricsText(baseUrl) {
  if (!baseUrl) return null;
  try {
    const answer = await httpJson('GET', `${baseUrl}/metrics`, { timeoutMs: 5_000 });
    return answer.status === 200 ? answer.text : null;
  } catch {
    return null;
  }
}

/**
 * Samples taken between two instants (performance.now()).
 *
 * @template T
 * @param {Sample<T>[]} samples
 * @param {number} from
 * @param {number} to
 */
export function between(samples, from, to) {
  return samples.filter((s) => s.t >= from && s.t <= to);
}

/**
 * Counts samples by a key (status, say); errors count under "error".
 *
 * @template T
 * @param {Sample<T>[]} samples
 * @param {(value: T) => string | number} key
 * @returns {Record<string, number>}
 */
export function tally(samples, key) {
  /** @type {Record<string, number>} */
  const counts = {};
  for (const s of samples) {
    const k = s.value === undefined ? 'error' : String(key(s.value));
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

/** @param {Record<string, number>} counts */
export const tallyText = (counts) =>
  Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} × ${v}`)
    .join(', ') || 'none';
