// Ingest: signed 1688 pushes per second accepted by the API role, and ack latency at a fixed
// 2,000/s, beside a bare node:http server that only checks the HMAC (the ceiling).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import autocannon from 'autocannon';
import { APP_SECRET, cleanup, isolated, printTable, pushBody, ROOT, serviceEnv, startService } from './lib.mjs';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);

/**
 * @param {number} count
 * @param {number} firstId
 */
function bodies(count, firstId) {
  return Array.from({ length: count }, (_, i) => pushBody(firstId + i).body);
}

/**
 * @param {string} url
 * @param {{ bodies: string[], connections: number, duration: number, rate?: number }} options
 */
async function run(url, options) {
  let i = 0;
  const pool = options.bodies;
  const result = await autocannon({
    url,
    connections: options.connections,
    duration: options.duration,
    overallRate: options.rate,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        setupRequest: (/** @type {Record<string, unknown>} */ request) => ({ ...request, body: pool[i++ % pool.length] }),
      },
    ],
  });
  const non2xx = result.non2xx + result.errors + result.timeouts;
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, total: result.requests.total, non2xx };
}

async function startBare() {
  const child = spawn(process.execPath, ['bench/bare-hmac-server.mjs'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '3991', APP_SECRET },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await once(child.stdout, 'data');
  return {
    url: 'http://127.0.0.1:3991/webhooks/1688',
    stop: async () => {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

export async function benchIngest() {
  const pool = bodies(Math.min(400_000, Math.ceil(DURATION_S * 25_000)), 1);
  const bare = await startBare();
  const bareMax = await run(bare.url, { bodies: pool, connections: CONNECTIONS, duration: DURATION_S });
  const bareFixed = await run(bare.url, { bodies: pool, connections: 32, duration: DURATION_S, rate: 2_000 });
  await bare.stop();

  const names = isolated('ingest');
  const service = await startService(serviceEnv(names, { ROLE: 'api', PORT: '3992' }));
  try {
    const url = 'http://127.0.0.1:3992/webhooks/1688';
    await run(url, { bodies: bodies(2_000, 10_000_000), connections: 16, duration: 2 }); // warm-up
    const max = await run(url, { bodies: pool, connections: CONNECTIONS, duration: DURATION_S });
    const fixed = await run(url, {
      bodies: bodies(DURATION_S * 2_000 + 1_000, 20_000_000),
      connections: 32,
      duration: DURATION_S,
      rate: 2_000,
    });
    const rows = [
      {
        measure: 'accepted pushes/s (API role)',
        value: max.rps,
        unit: '/s',
        baseline: bareMax.rps,
        ratio: max.rps / bareMax.rps,
        target: '≥ 10,000/s',
      },
      { measure: 'non-2xx answers during max run', value: max.non2xx, unit: '', target: '0' },
      {
        measure: 'ack p50 at 2,000/s',
        value: fixed.p50,
        unit: 'ms',
        baseline: bareFixed.p50,
        ratio: fixed.p50 / Math.max(bareFixed.p50, 0.01),
        target: '',
      },
      {
        measure: 'ack p99 at 2,000/s',
        value: fixed.p99,
        unit: 'ms',
        baseline: bareFixed.p99,
        ratio: fixed.p99 / Math.max(bareFixed.p99, 0.01),
        target: '≤ 25 ms',
      },
      {
        measure: 'achieved rate in the 2,000/s run',
        value: fixed.rps,
        unit: '/s',
        baseline: bareFixed.rps,
        ratio: fixed.rps / bareFixed.rps,
        target: '2,000/s',
      },
    ];
    return printTable(`Ingest (${DURATION_S} s runs, ${CONNECTIONS} connections, load generator on the same 2 cores)`, rows);
  } finally {
    await service.stop();
    await cleanup(names);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchIngest();
