#!/usr/bin/env node
// @ts-check
// The chaos suite: crashes and outages against real processes of the built service, each
// scenario checking that nothing answered 2xx is lost and nothing is applied or sent twice.
//
//   npm run build && node chaos/run.mjs            # full (about 20 min on 2 CPUs), writes docs/reliability.md
//   npm run build && node chaos/run.mjs --short    # reduced counts and outages, about 5 min (CI)
//   options: --only <id>[,<id>] (see --help), --lanes <n> (scenarios side by side; default 2),
//            --keep-logs, --out <file>, --no-report
//
// Needs PostgreSQL and Redis on their local ports (CHAOS_DATABASE_ADMIN_URL, CHAOS_REDIS_URL to
// change) and redis-server on the PATH. Every scenario has its own database
// (ordersync_chaos_<random>), queue prefix and processes, all removed at the end, on failure and
// on Ctrl-C. Exit code 1 when a scenario fails, 2 when the suite cannot run, 130 when interrupted.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import pg from 'pg';
import { Redis } from 'ioredis';
import { ADMIN_DATABASE_URL, ROOT, SHARED_REDIS_URL, ScenarioAbort, gitInfo, messageOf } from './lib/common.mjs';
import { Context } from './lib/context.mjs';
import { removeDistSnapshot, snapshotDist, startReaper, stopReaper } from './lib/reaper.mjs';
import { checkNoCrash } from './lib/verify.mjs';
import { report } from './report.mjs';
import kill from './scenario-1-kill.mjs';
import redis from './scenario-2-redis.mjs';
import postgres from './scenario-3-postgres.mjs';
import burst from './scenario-4-burst.mjs';
import postgresOutage from './scenario-5-postgres-outage.mjs';
import redisOutage from './scenario-6-redis-outage.mjs';
import supplierOutage from './scenario-7-supplier-outage.mjs';
import alibabaGivesUp from './scenario-8-1688-gives-up.mjs';

/** @import { Scenario } from './lib/context.mjs' */
/** @import { ScenarioResult } from './report.mjs' */

/** @type {Scenario[]} */
const ALL = [kill, redis, postgres, burst, postgresOutage, redisOutage, supplierOutage, alibabaGivesUp];

/**
 * @param {string[]} argv
 */
function parseArgs(argv) {
  /** @type {{ short: boolean, only: string[] | null, keepLogs: boolean, out: string, report: boolean, lanes: number | null }} */
  const options = { short: false, only: null, keepLogs: false, out: path.join(ROOT, 'docs', 'reliability.md'), report: true, lanes: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = /** @type {string} */ (argv[i]);
    const value = () => {
      const [, inline] = arg.split('=');
      if (inline !== undefined) return inline;
      i += 1;
      return argv[i] ?? '';
    };
    if (arg === '--short') options.short = true;
    else if (arg === '--keep-logs') options.keepLogs = true;
    else if (arg === '--no-report') options.report = false;
    else if (arg.startsWith('--only')) options.only = value().split(',');
    else if (arg.startsWith('--out')) options.out = path.resolve(value());
    else if (arg.startsWith('--lanes')) options.lanes = Number(value());
    else if (arg === '--help' || arg === '-h') {
      console.log(
        `usage: node chaos/run.mjs [--short] [--only ${ALL.map((s) => s.id).join(',')}] [--lanes n] [--keep-logs] [--out file] [--no-report]`,
      );
      console.log('');
      for (const s of ALL) console.log(`  ${s.id.padEnd(16)} ${s.title}${s.fullOnly ? ' (full run only)' : ''}`);
      process.exit(0);
    } else {
      console.error(`unknown argument ${arg}`);
      process.exit(2);
    }
  }
  if (options.lanes !== null && !(Number.isInteger(options.lanes) && options.lanes >= 1)) {
    console.error('--lanes takes a whole number from 1');
    process.exit(2);
  }
  return options;
}

async function preflight() {
  const problems = [];
  if (!fs.existsSync(path.join(ROOT, 'dist', 'main.js'))) problems.push('dist/main.js is missing: run `npm run build` first');
  const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    problems.push(`PostgreSQL at ${ADMIN_DATABASE_URL} is not reachable: ${messageOf(error)}`);
  } finally {
    await client.end().catch(() => undefined);
  }
  const redisClient = new Redis(SHARED_REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 3_000,
  });
  redisClient.on('error', () => {});
  try {
    await redisClient.connect();
    await redisClient.ping();
  } catch (error) {
    problems.push(`Redis at ${SHARED_REDIS_URL} is not reachable: ${messageOf(error)}`);
  } finally {
    redisClient.disconnect();
  }
  for (const tool of ['redis-server', 'redis-cli', 'psql']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) problems.push(`${tool} is not on the PATH`);
  }
  return problems;
}

const options = parseArgs(process.argv.slice(2));
const only = options.only;
const scenarios = only ? ALL.filter((s) => only.includes(s.id)) : ALL.filter((s) => !(options.short && s.fullOnly));
if (scenarios.length === 0) {
  console.error(`no scenario named ${only?.join(', ')} (have: ${ALL.map((s) => s.id).join(', ')})`);
  process.exit(2);
}

/** @type {Set<Context>} */
const running = new Set();
let interrupted = false;
/** @param {string} signal */
const onSignal = (signal) => {
  if (interrupted) {
    console.error(`\n${signal} again: exiting now; the reaper removes what is left`);
    process.exit(130);
  }
  interrupted = true;
  console.error(`\n${signal}: stopping the running scenarios and cleaning up (again to exit at once)`);
  for (const ctx of running) ctx.abort(`interrupted by ${signal}`);
};
process.on('SIGINT', () => onSignal('SIGINT'));
process.on('SIGTERM', () => onSignal('SIGTERM'));
process.on('unhandledRejection', (error) => {
  // A background step of a scenario that was aborted (deadline, Ctrl-C, an earlier failure).
  if ((error instanceof Error && error.name === 'AbortError') || error instanceof ScenarioAbort) return;
  console.error('unhandled rejection:', error);
  for (const ctx of running) if (!ctx.signal.aborted) ctx.check('no unhandled error in the suite', false, messageOf(error));
});

const problems = await preflight();
if (problems.length > 0) {
  console.error(`chaos suite cannot run:\n  - ${problems.join('\n  - ')}`);
  process.exit(2);
}

startReaper();
snapshotDist();
const startedAt = new Date();
const suiteT0 = performance.now();
const git = gitInfo();
const lanes = Math.max(1, Math.min(options.lanes ?? 2, scenarios.length));
console.log(
  `chaos suite (${options.short ? 'short' : 'full'}): ${scenarios.length} scenario${scenarios.length > 1 ? 's' : ''}${lanes > 1 ? ` in ${lanes} lanes side by side` : ''}, commit ${git.commit}${git.dirty ? ' (with uncommitted changes)' : ''}, node ${process.version}`,
);

/**
 * @param {Scenario} scenario
 * @param {number} lane
 * @returns {Promise<ScenarioResult>}
 */
async function runScenario(scenario, lane) {
  const number = ALL.indexOf(scenario) + 1;
  const ctx = new Context({ title: scenario.title, short: options.short, keepLogs: options.keepLogs });
  ctx.prefix = lanes > 1 ? `[${number}] ` : '';
  running.add(ctx);
  console.log('');
  ctx.print(`=== ${number}. ${scenario.title}${options.short ? ' [short]' : ''}${lanes > 1 ? ` (lane ${lane})` : ''}`);
  const deadlineMs = scenario.deadlineMs(options.short);
  const t0 = performance.now();
  ctx.deadlineAt = t0 + deadlineMs;
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`hard deadline of ${deadlineMs / 1000} s reached`);
      ctx.abort(error.message);
      reject(error);
    }, deadlineMs);
  });
  const run = scenario.run(ctx);
  run.catch(() => undefined);
  try {
    await Promise.race([run, deadline]);
  } catch (error) {
    const message = messageOf(error);
    const aborted = ctx.signal.reason instanceof Error ? ctx.signal.reason.message : null;
    const reason = ctx.signal.aborted && aborted ? aborted : message;
    const stack = error instanceof Error && error.stack ? error.stack : message;
    ctx.check('the scenario ran to its end', false, reason === message ? stack.split('\n').slice(0, 6).join(' | ') : reason);
  } finally {
    clearTimeout(timer);
  }
  checkNoCrash(ctx);
  const durationMs = performance.now() - t0;
  ctx.print('  figures:');
  for (const f of ctx.figures)
    ctx.print(`    ${f.label}: ${typeof f.value === 'number' ? f.value.toLocaleString('en-US') : String(f.value)}`);
  const passed = ctx.passed;
  if (!passed && ctx.errorLines.length > 0) {
    ctx.print('  last error lines logged by the service:');
    for (const line of ctx.errorLines.slice(-8)) ctx.print(`    ${line.slice(0, 300)}`);
  }
  ctx.print('  cleaning up...');
  await ctx.cleanup();
  running.delete(ctx);
  ctx.print(`--- ${number}. ${passed ? 'PASS' : 'FAIL'} in ${(durationMs / 1000).toFixed(1)} s`);
  return {
    number,
    id: scenario.id,
    title: scenario.title,
    passed,
    durationMs,
    deadlineMs,
    lane,
    figures: ctx.figures,
    checks: ctx.checks,
    actions: ctx.actions,
    logCounts: Object.fromEntries(ctx.logCounts),
  };
}

// Scenarios are independent (own database, queue prefix, processes, ports): in lanes they run
// side by side. Each lane takes the longest scenario still to run whenever it is free, so that
// the long outages (which mostly wait) overlap the others.
const queue = [...scenarios].sort((a, b) => b.estimateMs(options.short) - a.estimateMs(options.short));
/** @type {ScenarioResult[]} */
const results = [];
await Promise.all(
  Array.from({ length: lanes }, async (_, i) => {
    for (;;) {
      if (interrupted) break;
      const scenario = queue.shift();
      if (!scenario) break;
      results.push(await runScenario(scenario, i + 1));
    }
  }),
);
results.sort((a, b) => a.number - b.number);

const totalMs = performance.now() - suiteT0;
removeDistSnapshot();
stopReaper();
const failed = results.filter((r) => !r.passed);
console.log(
  `\nchaos suite: ${results.length - failed.length}/${results.length} scenarios passed in ${(totalMs / 1000).toFixed(1)} s${interrupted ? ' (interrupted)' : ''}`,
);
for (const r of results)
  console.log(`  ${r.passed ? 'PASS' : 'FAIL'}  ${r.number}. ${r.title} (${(r.durationMs / 1000).toFixed(1)} s, lane ${r.lane})`);

if (interrupted) process.exit(130);
if (options.report) {
  fs.mkdirSync(path.dirname(options.out), { recursive: true });
  fs.writeFileSync(options.out, report({ results, startedAt, totalMs, git, short: options.short, lanes }));
  console.log(`report written to ${path.relative(process.cwd(), options.out) || options.out}`);
}
process.exit(failed.length > 0 ? 1 : 0);
