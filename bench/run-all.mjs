// @ts-check
// Runs every benchmark in turn (ingest, profile, drain, freshness, dispatch, operations, sweep, scaling) against the built service and writes
// the combined Markdown to stdout and to bench/results/latest.md. `npm run bench` builds first.
//
//   node bench/run-all.mjs [--only drain,dispatch] [--out file]   (--help for the list)
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { benchDispatch } from './dispatch.mjs';
import { benchDrain } from './drain.mjs';
import { benchFreshness } from './freshness.mjs';
import { benchIngest } from './ingest.mjs';
import { benchOpsLatency } from './ops-latency.mjs';
import { benchProfile } from './profile.mjs';
import { benchScaling } from './scaling.mjs';
import { benchSweep } from './sweep.mjs';
import { ROOT, machineLoad } from './lib.mjs';

/** @type {[string, () => Promise<string>][]} */
const ALL = [
  ['ingest', benchIngest],
  ['profile', () => benchProfile()],
  ['drain', benchDrain],
  ['freshness', benchFreshness],
  ['dispatch', benchDispatch],
  ['operations', benchOpsLatency],
  ['sweep', benchSweep],
  ['scaling', benchScaling],
];

const { values: args } = parseArgs({
  options: { only: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
});
if (args.help) {
  console.log(`usage: node bench/run-all.mjs [--only ${ALL.map(([name]) => name).join(',')}] [--out file]

Runs the benchmarks against the built service (dist/main.js; \`npm run bench\` builds first) and the
local Postgres and Redis (BENCH_DATABASE_ADMIN_URL, BENCH_REDIS_URL), prints their tables and writes
them to bench/results/latest.md (or --out). BENCH_* variables tune the sizes (see each bench file).`);
  process.exit(0);
}
const only = args.only?.split(',');
const unknown = only?.filter((name) => !ALL.some(([n]) => n === name)) ?? [];
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(', ')} (have: ${ALL.map(([name]) => name).join(', ')})`);
  process.exit(2);
}
const benches = only ? ALL.filter(([name]) => only.includes(name)) : ALL;

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
    `- load average at the start: ${os
      .loadavg()
      .map((n) => n.toFixed(2))
      .join(', ')} (1, 5, 15 min)`,
  ].join('\n');
}

const sections = [header()];
let failed = 0;
for (const [name, bench] of benches) {
  const started = Date.now();
  const load = machineLoad();
  if (load.busy) console.error(`warning: load average ${load.one.toFixed(2)} before ${name}: others are using the machine`);
  try {
    const table = await bench();
    sections.push(
      `${table}\n\n_${name}: ${((Date.now() - started) / 1000).toFixed(0)} s, load average ${load.one.toFixed(2)} at its start_`,
    );
  } catch (error) {
    failed++;
    console.error(`${name} benchmark failed:`, error);
    sections.push(
      `### ${name}\n\nFAILED after ${((Date.now() - started) / 1000).toFixed(0)} s: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]}`,
    );
  }
}

const markdown = `${sections.join('\n\n')}\n`;
const outFile = args.out ? path.resolve(args.out) : path.join(ROOT, 'bench', 'results', 'latest.md');
await mkdir(path.dirname(outFile), { recursive: true });
await writeFile(outFile, markdown);
console.log(`\n${markdown}`);
console.log(`written to ${outFile.startsWith(ROOT) ? path.relative(ROOT, outFile) : outFile}`);
if (failed > 0) process.exitCode = 1;
