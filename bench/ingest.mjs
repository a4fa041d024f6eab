// Ingest: signed 1688 pushes per second accepted by the API role, and ack latency at a fixed
// 2,000/s, beside a bare node:http server that only checks the HMAC (the ceiling).
import { cleanup, isolated, printTable, pushBodies as bodies, sendPushes as run, serviceEnv, startBare, startService } from './lib.mjs';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);

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
        target: '≥ 0.35× the bare server',
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
