#!/usr/bin/env node
// The chaos suite: crashes and outages against real processes of the built service, each
// scenario checking that nothing answered 2xx is lost and nothing is applied or sent twice.
//
//   npm run build && node chaos/run.mjs            # full (6-7 min on 2 CPUs), writes docs/reliability.md
//   npm run build && node chaos/run.mjs --short    # reduced counts, under ~2 min (CI)
//   options: --only <id>[,<id>] (kill, redis, postgres, burst), --lanes <n> (scenarios side by side;
//            default 2 with --short, 1 otherwise), --keep-logs, --out <file>, --no-report
//
// Needs PostgreSQL and Redis on their local ports (CHAOS_DATABASE_ADMIN_URL, CHAOS_REDIS_URL to
// change) and redis-server on the PATH. Every scenario has its own database
// (ordersync_chaos_<random>), queue prefix and processes, all removed at the end, on failure and
// on Ctrl-C. Exit code 1 when a scenario fails, 2 when the suite cannot run, 130 when interrupted.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { spawnSync } from 'node:child_process';
import pg from 'pg';
import { Redis } from 'ioredis';
import { ADMIN_DATABASE_URL, checkNoCrash, Context, ScenarioAbort, fmt, gitInfo, removeDistSnapshot, ROOT, SHARED_REDIS_URL, snapshotDist, startReaper, stopReaper } from './lib.mjs';
import kill from './scenario-1-kill.mjs';
import redis from './scenario-2-redis.mjs';
import postgres from './scenario-3-postgres.mjs';
import burst from './scenario-4-burst.mjs';

const ALL = [kill, redis, postgres, burst];

function parseArgs(argv) {
  const options = { short: false, only: null, keepLogs: false, out: path.join(ROOT, 'docs', 'reliability.md'), report: true, lanes: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const [, inline] = arg.split('=');
      if (inline !== undefined) return inline;
      i += 1;
      return argv[i];
    };
    if (arg === '--short') options.short = true;
    else if (arg === '--keep-logs') options.keepLogs = true;
    else if (arg === '--no-report') options.report = false;
    else if (arg.startsWith('--only')) options.only = value().split(',');
    else if (arg.startsWith('--out')) options.out = path.resolve(value());
    else if (arg.startsWith('--lanes')) options.lanes = Number(value());
    else if (arg === '--help' || arg === '-h') {
      console.log('usage: node chaos/run.mjs [--short] [--only kill,redis,postgres,burst] [--lanes n] [--keep-logs] [--out file] [--no-report]');
      process.exit(0);
    } else {
      console.error(`unknown argument ${arg}`);
      process.exit(2);
    }
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
    problems.push(`PostgreSQL at ${ADMIN_DATABASE_URL} is not reachable: ${error.message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
  const redis = new Redis(SHARED_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 3_000 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    problems.push(`Redis at ${SHARED_REDIS_URL} is not reachable: ${error.message}`);
  } finally {
    redis.disconnect();
  }
  for (const tool of ['redis-server', 'redis-cli', 'psql']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) problems.push(`${tool} is not on the PATH`);
  }
  return problems;
}

const options = parseArgs(process.argv.slice(2));
const scenarios = options.only ? ALL.filter((s) => options.only.includes(s.id)) : ALL;
if (scenarios.length === 0) {
  console.error(`no scenario named ${options.only.join(', ')} (have: ${ALL.map((s) => s.id).join(', ')})`);
  process.exit(2);
}

const running = new Set();
let interrupted = false;
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
  if (error?.name === 'AbortError' || error instanceof ScenarioAbort) return;
  console.error('unhandled rejection:', error);
  for (const ctx of running) if (!ctx.signal.aborted) ctx.check('no unhandled error in the suite', false, String(error?.message ?? error));
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
const lanes = Math.max(1, Math.min(options.lanes ?? (options.short ? 2 : 1), scenarios.length));
console.log(`chaos suite (${options.short ? 'short' : 'full'}): ${scenarios.length} scenario${scenarios.length > 1 ? 's' : ''}${lanes > 1 ? ` in ${lanes} lanes side by side` : ''}, commit ${git.commit}${git.dirty ? ' (with uncommitted changes)' : ''}, node ${process.version}`);

async function runScenario(scenario) {
  const number = ALL.indexOf(scenario) + 1;
  const ctx = new Context({ title: scenario.title, short: options.short, keepLogs: options.keepLogs });
  ctx.prefix = lanes > 1 ? `[${number}] ` : '';
  running.add(ctx);
  console.log('');
  ctx.print(`=== ${number}. ${scenario.title}${options.short ? ' [short]' : ''}`);
  const deadlineMs = scenario.deadlineMs(options.short);
  const t0 = performance.now();
  ctx.deadlineAt = t0 + deadlineMs;
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
    const reason = ctx.signal.aborted && ctx.signal.reason?.message ? ctx.signal.reason.message : error.message;
    ctx.check('the scenario ran to its end', false, reason === error.message ? String(error.stack ?? error.message).split('\n').slice(0, 6).join(' | ') : reason);
  } finally {
    clearTimeout(timer);
  }
  checkNoCrash(ctx);
  const durationMs = performance.now() - t0;
  const passed = ctx.passed;
  if (!passed && ctx.errorLines.length > 0) {
    ctx.print('  last error lines logged by the service:');
    for (const line of ctx.errorLines.slice(-8)) ctx.print(`    ${line.slice(0, 300)}`);
  }
  ctx.print('  cleaning up...');
  await ctx.cleanup();
  running.delete(ctx);
  ctx.print(`--- ${number}. ${passed ? 'PASS' : 'FAIL'} in ${(durationMs / 1000).toFixed(1)} s`);
  return { number, id: scenario.id, title: scenario.title, passed, durationMs, deadlineMs, figures: ctx.figures, checks: ctx.checks, actions: ctx.actions, logCounts: Object.fromEntries(ctx.logCounts) };
}

// Scenarios are independent (own database, queue prefix, processes, ports): in lanes they run
// side by side, which the short run needs to stay near two minutes (most of its time is spent
// waiting for BullMQ's stalled-job recovery after kills and outages, not computing).
const laneLists = Array.from({ length: lanes }, () => []);
scenarios.forEach((scenario, i) => laneLists[i % lanes].push(scenario));
const results = [];
await Promise.all(
  laneLists.map(async (list) => {
    for (const scenario of list) {
      if (interrupted) break;
      results.push(await runScenario(scenario));
    }
  }),
);
results.sort((a, b) => a.number - b.number);

const totalMs = performance.now() - suiteT0;
removeDistSnapshot();
stopReaper();
const failed = results.filter((r) => !r.passed);
console.log(`\nchaos suite: ${results.length - failed.length}/${results.length} scenarios passed in ${(totalMs / 1000).toFixed(1)} s${interrupted ? ' (interrupted)' : ''}`);
for (const r of results) console.log(`  ${r.passed ? 'PASS' : 'FAIL'}  ${r.number}. ${r.title} (${(r.durationMs / 1000).toFixed(1)} s)`);

if (interrupted) process.exit(130);
if (options.report) {
  fs.mkdirSync(path.dirname(options.out), { recursive: true });
  fs.writeFileSync(options.out, report({ results, startedAt, totalMs, git }));
  console.log(`report written to ${path.relative(process.cwd(), options.out) || options.out}`);
}
process.exit(failed.length > 0 ? 1 : 0);

// ---------------------------------------------------------------------------------------------

function cell(value) {
  return String(typeof value === 'number' ? fmt(value) : value).replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function report({ results, startedAt, totalMs, git }) {
  const passedCount = results.filter((r) => r.passed).length;
  const lines = [];
  lines.push('# Reliability: the chaos suite');
  lines.push('');
  lines.push('<!-- Generated by chaos/run.mjs from the figures it measured. Do not edit by hand: run `npm run chaos` (full) or `npm run chaos:short`. -->');
  lines.push('');
  lines.push('Real processes of the built service (`node dist/main.js`, roles `api` and `worker`) against the local');
  lines.push('PostgreSQL and Redis (or a private `redis-server`), each scenario on its own database and queue prefix.');
  lines.push('1688 pushes come from a sender that behaves like 1688: a refused connection, a timeout or any non-2xx');
  lines.push('answer is re-sent with growing gaps. So **lost** means: answered 2xx (durably queued, by the contract)');
  lines.push('and never applied (no row in `inbox_messages`). Side effects are counted by the fake supplier API per');
  lines.push('`Idempotency-Key` (= order id): exactly one per order is required.');
  lines.push('');
  lines.push('| run | |');
  lines.push('|---|---|');
  lines.push(`| date | ${startedAt.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')} |`);
  lines.push(`| commit | \`${git.commit}\`${git.dirty ? ' (working tree had uncommitted changes)' : ''} |`);
  lines.push(`| node | ${process.version} |`);
  lines.push(`| host | ${os.platform()} ${os.release()}, ${os.cpus().length} CPUs, ${Math.round(os.totalmem() / 2 ** 30)} GiB |`);
  lines.push(`| mode | ${options.short ? '`--short` (reduced counts, CI)' : 'full'}${lanes > 1 ? `, ${lanes} scenarios at a time` : ', one scenario at a time'} |`);
  lines.push(`| result | **${passedCount}/${results.length} scenarios passed** in ${(totalMs / 1000).toFixed(0)} s |`);
  lines.push('');
  lines.push('| scenario | result | time | messages sent | acknowledged (2xx) | applied | **lost** | orders | side effects | **duplicate side effects** | crashes |');
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const f = (label) => r.figures.find((x) => x.label === label)?.value ?? '–';
    const sideEffects = String(f('side effects at the supplier (calls)')).split(' ')[0];
    lines.push(
      `| ${r.number}. ${cell(r.title)} | ${r.passed ? 'PASS' : '**FAIL**'} | ${(r.durationMs / 1000).toFixed(0)} s | ${cell(f('messages sent (distinct msgIds)'))} | ${cell(f('messages acknowledged (2xx)'))} | ${cell(f('acknowledged messages applied'))} | ${cell(f('**lost** (2xx, never applied)'))} | ${cell(f('orders created'))} | ${cell(sideEffects)} | ${cell(f('**duplicate side effects**'))} | ${cell(f('service processes that exited on their own (restarted)'))} |`,
    );
  }
  const failedChecks = results.flatMap((r) => r.checks.filter((c) => !c.ok).map((c) => ({ r, c })));
  if (failedChecks.length > 0) {
    lines.push('');
    lines.push('Failed checks:');
    lines.push('');
    for (const { r, c } of failedChecks) lines.push(`- ❌ ${r.number}. ${c.label}${c.detail ? ` — ${c.detail}` : ''}`);
  }
  for (const r of results) {
    lines.push('');
    lines.push(`## ${r.number}. ${r.title} — ${r.passed ? 'PASS' : 'FAIL'}`);
    lines.push('');
    lines.push(`${(r.durationMs / 1000).toFixed(1)} s (hard deadline ${r.deadlineMs / 1000} s).`);
    lines.push('');
    lines.push('What it did:');
    lines.push('');
    for (const action of r.actions) lines.push(`- ${action}`);
    lines.push('');
    lines.push('| measure | value |');
    lines.push('|---|---:|');
    for (const figure of r.figures) lines.push(`| ${cell(figure.label)} | ${cell(figure.value)} |`);
    const counts = Object.entries(r.logCounts).filter(([, n]) => n > 0);
    if (counts.length > 0) lines.push(`| log lines of the service: ${cell(counts.map(([k]) => k).join(' / '))} | ${cell(counts.map(([, n]) => fmt(n)).join(' / '))} |`);
    lines.push('');
    lines.push('Verified:');
    lines.push('');
    for (const check of r.checks) lines.push(`- ${check.ok ? '✅' : '❌'} ${check.label}${check.detail ? ` — ${check.detail}` : ''}`);
  }
  lines.push('');
  return lines.join('\n');
}
