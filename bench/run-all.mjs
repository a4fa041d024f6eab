// Runs every benchmark in turn (ingest, drain, freshness, dispatch, operations) against the built service and writes
// the combined Markdown to stdout and to bench/results/latest.md. `npm run bench` builds first.
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { benchDispatch } from './dispatch.mjs';
import { benchDrain } from './drain.mjs';
import { benchFreshness } from './freshness.mjs';
import { benchIngest } from './ingest.mjs';
import { benchOpsLatency } from './ops-latency.mjs';
import { ROOT } from './lib.mjs';

const benches = [
  ['ingest', benchIngest],
  ['drain', benchDrain],
  ['freshness', benchFreshness],
  ['dispatch', benchDispatch],
  ['operations', benchOpsLatency],
];

function header() {
  const cpus = os.cpus();
  const models = [...new Set(cpus.map((cpu) => cpu.model.trim()))].join(', ');
  const overrides = Object.entries(process.env)
    .filter(([name]) => name.startsWith('BENCH_'))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => `\`${name}=${value}\``);
  return [
    '# ordersync benchmarks',
    '',
    `- date: ${new Date().toISOString()}`,
    `- node: ${process.version} (${process.platform} ${process.arch})`,
    `- CPU: ${cpus.length} × ${models || 'unknown'}; memory ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- environment overrides: ${overrides.length ? overrides.join(', ') : 'none (defaults)'}`,
    '- the load generator, the service, Postgres and Redis all share this machine',
  ].join('\n');
}

const sections = [header()];
let failed = 0;
for (const [name, bench] of benches) {
  const started = Date.now();
  try {
    const table = await bench();
    sections.push(`${table}\n\n_${name}: ${((Date.now() - started) / 1000).toFixed(0)} s_`);
  } catch (error) {
    failed++;
    console.error(`${name} benchmark failed:`, error);
    sections.push(`### ${name}\n\nFAILED after ${((Date.now() - started) / 1000).toFixed(0)} s: ${String(error?.message ?? error).split('\n')[0]}`);
  }
}

const markdown = `${sections.join('\n\n')}\n`;
const outDir = path.join(ROOT, 'bench', 'results');
await mkdir(outDir, { recursive: true });
const outFile = path.join(outDir, 'latest.md');
await writeFile(outFile, markdown);
console.log(`\n${markdown}`);
console.log(`written to ${path.relative(ROOT, outFile)}`);
if (failed > 0) process.exitCode = 1;
