// @ts-check
// Operations under load: GET /queues, GET /health/ready and GET /health/backlog latency while the API role ingests
// 2,000 pushes/s (open loop), beside the same probes on an idle service; and ingest throughput
// with the probes polling, beside ingest alone (the probes must not slow ingestion).
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { cleanup, isolated, percentile, printTable, pushBody, serviceEnv, startService } from './lib.mjs';

const RATE = Number(process.env.BENCH_OPS_RATE ?? 2_000);
const SECONDS = Number(process.env.BENCH_OPS_SECONDS ?? 15);
const PROBE_EVERY_MS = Number(process.env.BENCH_OPS_PROBE_EVERY_MS ?? 50);
const PORT = Number(process.env.BENCH_OPS_PORT ?? 3994);
const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));
let nextMsgId = 4_000_000_000;

/**
 * One request; resolves with its status (0 when it failed) and latency, never rejects.
 *
 * @param {http.Agent} agent
 * @param {string} method
 * @param {string} path
 * @param {string} [body]
 * @returns {Promise<{ status: number | undefined, ms: number }>}
 */
function request(agent, method, path, body) {
  return new Promise((resolve) => {
    const started = performance.now();
    const req = http.request(
      {
        agent,
        host: '127.0.0.1',
        port: PORT,
        path,
        method,
        headers: body ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } : {},
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - started }));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, ms: performance.now() - started }));
    req.end(body);
  });
}

/**
 * Pushes at `rate` for `seconds` (open loop, bounded in flight); resolves with acks per second.
 *
 * @param {number} rate
 * @param {number} seconds
 * @returns {Promise<number>}
 */
async function ingest(rate, seconds) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  let sent = 0;
  let ok = 0;
  let inFlight = 0;
  const start = performance.now();
  const total = rate * seconds;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
    while (sent < due && inFlight < 512) {
      sent++;
      inFlight++;
      request(agent, 'POST', '/webhooks/1688', pushBody(nextMsgId++).body).then((answer) => {
        inFlight--;
        if (answer.status === 200) ok++;
      });
    }
    await sleep(2);
  }
  while (inFlight > 0) await sleep(5);
  agent.destroy();
  return ok / ((performance.now() - start) / 1000);
}

/**
 * Polls the three routes until `until` resolves; returns their latencies.
 *
 * @param {Promise<unknown>} until
 */
async function probe(until) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 3 });
  /** @type {{ queues: number[], ready: number[], backlog: number[] }} latencies in ms, sorted at the end */
  const latencies = { queues: [], ready: [], backlog: [] };
  let done = false;
  until.then(() => (done = true));
  while (!done) {
    const [queues, ready, backlog] = await Promise.all([
      request(agent, 'GET', '/queues'),
      request(agent, 'GET', '/health/ready'),
      request(agent, 'GET', '/health/backlog'),
    ]);
    if (queues.status === 200) latencies.queues.push(queues.ms);
    if (ready.status === 200 || ready.status === 503) latencies.ready.push(ready.ms);
    if (backlog.status === 200 || backlog.status === 503) latencies.backlog.push(backlog.ms);
    await sleep(PROBE_EVERY_MS);
  }
  agent.destroy();
  for (const list of Object.values(latencies)) list.sort((a, b) => a - b);
  return latencies;
}

/** @returns {Promise<string>} the Markdown table */
export async function benchOpsLatency() {
  const names = isolated('ops');
  const processes = [];
  try {
    const env = serviceEnv(names, { PORT: String(PORT) });
    processes.push(await startService({ ...env, ROLE: 'api' }));
    processes.push(await startService({ ...env, ROLE: 'worker' }));
    const idle = await probe(sleep((SECONDS * 1000) / 3));
    await ingest(RATE, 3); // warm-up
    const alone = await ingest(RATE, SECONDS);
    const withProbes = ingest(RATE, SECONDS);
    const loaded = await probe(withProbes);
    const probed = await withProbes;
    /** @type {[string, 'queues' | 'ready' | 'backlog'][]} */
    const routes = [
      ['/queues', 'queues'],
      ['/health/ready', 'ready'],
      ['/health/backlog', 'backlog'],
    ];
    const latencyRows = routes.flatMap(([route, key]) =>
      [50, 99].map((q) => ({
        measure: `GET ${route} p${q}`,
        value: percentile(loaded[key], q),
        unit: 'ms',
        baseline: percentile(idle[key], q),
        ratio: percentile(loaded[key], q) / percentile(idle[key], q),
        ...(q === 99 ? { target: '≤ 20 ms' } : {}),
      })),
    );
    return printTable(
      `Operations routes under load (1 API + 1 worker process, ${RATE.toLocaleString('en-US')} pushes/s offered for ${SECONDS} s; probes every ${PROBE_EVERY_MS} ms; baseline: idle service)`,
      [
        ...latencyRows,
        {
          measure: 'pushes acknowledged per second, with the probes',
          value: probed,
          unit: '/s',
          baseline: alone,
          baselineUnit: '/s (ingest alone)',
          ratio: probed / alone,
          target: 'no visible drop',
        },
      ],
    );
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    await cleanup(names);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchOpsLatency();
