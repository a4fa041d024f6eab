// @ts-check
// Profile: where the CPU time of one 1688 push goes in the API process, by stage, beside the bare
// HMAC server (the same pushes, the same load). Both run under `node --cpu-prof` while autocannon
// sends as fast as answers come; each sample of the V8 profile taken while pushes were being
// served is put in one stage (walking its stack from the leaf up to the first frame that names
// one), and the stage's time divided by the pushes answered is its µs per push.
//
//   node bench/profile.mjs [--keep dir]   (keeps the .cpuprofile files there, for a flame graph)
import { mkdtemp, readdir, readFile, rm, mkdir, copyFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cleanup, isolated, printTable, pushBodies, sendPushes, serviceEnv, startBare, startService } from './lib.mjs';

const DURATION_S = Number(process.env.BENCH_PROFILE_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const PORT = Number(process.env.BENCH_PROFILE_PORT ?? 3995);
/** Sampling interval of the profiler, µs (V8's default is 1000). */
const INTERVAL_US = 250;
/** The push handler of the API (before and after the lean path) and of the bare server: where the load is. */
const MARKER = /^(receive1688|handle1688|onPush)$/;

/**
 * Stages, tried in order on each frame from the leaf up: the first that matches names the sample.
 * Node's own frames (crypto, URL parsing) name a stage only where one is worth its own line;
 * others are passed over to the caller that asked for them.
 *
 * @type {[string, (frame: { url: string, functionName: string }) => boolean][]}
 */
const STAGES = [
  ['GC', (f) => f.functionName === '(garbage collector)'],
  ['idle', (f) => f.functionName === '(idle)'],
  ['native, outside JS (program)', (f) => f.functionName === '(program)'],
  ['HMAC (node:crypto)', (f) => f.url.startsWith('node:internal/crypto') || f.url === 'node:crypto'],
  [
    'form decoding (URLSearchParams, querystring)',
    (f) => f.url === 'node:internal/url' || f.url === 'node:querystring' || f.url === 'node:internal/querystring',
  ],
  ['validation: class-validator / class-transformer', (f) => /\/class-(validator|transformer)\//.test(f.url)],
  ['JSON parse (lossless-json)', (f) => /\/lossless-json\//.test(f.url) || /\/dist\/common\/lossless-json\.js$/.test(f.url)],
  ['queue add (BullMQ: job, Lua script args, msgpack)', (f) => /\/(bullmq|msgpackr)\//.test(f.url)],
  [
    'Redis client (ioredis: commands, reply parsing)',
    (f) => /\/(ioredis|redis-parser|cluster-key-slot|denque|standard-as-callback)\//.test(f.url),
  ],
  ['metrics (prom-client)', (f) => /\/prom-client\//.test(f.url)],
  ['logging (pino)', (f) => /\/(pino|pino-std-serializers|sonic-boom|fast-redact|@pinojs)\//.test(f.url)],
  ['tracing (OpenTelemetry)', (f) => /\/@opentelemetry\//.test(f.url)],
  ['Nest pipeline (router, guards, pipes, interceptors, rxjs)', (f) => /\/(@nestjs|rxjs|iterare|reflect-metadata)\//.test(f.url)],
  [
    'Fastify (routing, hooks, reply, content-type parsing)',
    (f) =>
      /\/(fastify|@fastify|find-my-way|avvio|fast-json-stringify|toad-cache|process-warning|secure-json-parse|fast-querystring|light-my-request|abstract-logging|rfdc|content-type|fast-decode-uri-component)\//.test(
        f.url,
      ),
  ],
  [
    'signature check (ours)',
    (f) => /\/dist\/(webhooks\/(alibaba-signature\.guard|webhook-signature\.guard|signatures)|alibaba\/aop-signature)\.js$/.test(f.url),
  ],
  [
    'message parsing and checks (ours)',
    (f) =>
      /\/dist\/(webhooks\/(alibaba-message|webhook-shapes|generic-order-event|push-form)|common\/(validation|json-body|date-time))[^/]*\.js$/.test(
        f.url,
      ),
  ],
  [
    'publisher and batching (ours)',
    (f) => /\/dist\/(webhooks\/order-events\.publisher|common\/micro-batcher|queues\/)[^/]*\.js$/.test(f.url),
  ],
  ['HTTP hooks (ours: request id, metrics, log line)', (f) => /\/dist\/(http|logging|telemetry)\//.test(f.url)],
  ['webhook routes (ours)', (f) => /\/dist\/webhooks\//.test(f.url)],
  ['other code of ours', (f) => /\/dist\//.test(f.url)],
  ['node:http (parser, server, response)', (f) => /^node:_http_|^node:http$|^node:internal\/http/.test(f.url)],
  [
    'sockets and streams (node:net, streams)',
    (f) => /^node:net$|^node:internal\/(stream_base_commons|streams\/)|^node:stream$/.test(f.url),
  ],
  [
    'node: timers, promises, async context',
    (f) =>
      /^node:internal\/(timers|process\/task_queues|async_hooks|async_local_storage|process\/promises)|^node:timers|^node:async_hooks$/.test(
        f.url,
      ),
  ],
];
const OTHER = 'other (Node internals, V8 builtins)';

/**
 * @typedef {{ id: number, callFrame: { functionName: string, url: string }, children?: number[] }} ProfileNode
 * @typedef {{ nodes: ProfileNode[], startTime: number, endTime: number, samples: number[], timeDeltas: number[] }} CpuProfile
 */

/**
 * µs per stage over the samples between the first and last that ran `marker` (the push handler):
 * that span is the load, without the boot before it or the shutdown after.
 *
 * @param {CpuProfile} profile
 * @param {RegExp} marker matched against function names
 */
export function stagesOf(profile, marker) {
  /** @type {Map<number, ProfileNode>} */
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  /** @type {Map<number, number>} */
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  /** @type {Map<number, { stage: string, marked: boolean }>} */
  const memo = new Map();
  const classify = (/** @type {number} */ id) => {
    const known = memo.get(id);
    if (known) return known;
    let stage = null;
    let marked = false;
    for (let at = /** @type {number | undefined} */ (id); at !== undefined; at = parent.get(at)) {
      const frame = /** @type {ProfileNode} */ (byId.get(at)).callFrame;
      if (!marked && marker.test(frame.functionName)) marked = true;
      if (stage === null) stage = STAGES.find(([, test]) => test(frame))?.[0] ?? null;
    }
    const result = { stage: stage ?? OTHER, marked };
    memo.set(id, result);
    return result;
  };
  // Sample i lasted until the next one: timeDeltas[i + 1].
  /** @type {number[]} */
  const times = [];
  let t = profile.startTime;
  for (const delta of profile.timeDeltas) times.push((t += delta));
  let first = -1;
  let last = -1;
  profile.samples.forEach((id, i) => {
    if (classify(id).marked) {
      if (first < 0) first = i;
      last = i;
    }
  });
  /** @type {Map<string, number>} */
  const totals = new Map();
  if (first < 0) return { totals, spanUs: 0 };
  for (let i = first; i < last; i++) {
    const { stage } = classify(profile.samples[i]);
    totals.set(stage, (totals.get(stage) ?? 0) + (times[i + 1] - times[i]));
  }
  return { totals, spanUs: times[last] - times[first] };
}

/**
 * @param {string} dir
 * @returns {Promise<CpuProfile>}
 */
async function onlyProfileIn(dir) {
  const files = (await readdir(dir)).filter((name) => name.endsWith('.cpuprofile'));
  if (files.length !== 1) throw new Error(`expected one .cpuprofile in ${dir}, found ${files.length}`);
  return JSON.parse(await readFile(path.join(dir, /** @type {string} */ (files[0])), 'utf8'));
}

/**
 * @param {string} dir
 * @param {string | undefined} keep
 * @param {string} name
 */
async function keepProfile(dir, keep, name) {
  if (!keep) return;
  await mkdir(keep, { recursive: true });
  const files = (await readdir(dir)).filter((file) => file.endsWith('.cpuprofile'));
  if (files[0]) await copyFile(path.join(dir, files[0]), path.join(keep, `${name}.cpuprofile`));
}

/** @param {{ keep?: string }} [options] */
export async function benchProfile(options = {}) {
  const profArgs = (/** @type {string} */ dir) => ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', String(INTERVAL_US)];
  const bodies = pushBodies(Math.min(400_000, DURATION_S * 25_000), 90_000_000);

  const bareDir = await mkdtemp(path.join(os.tmpdir(), 'ordersync-prof-bare-'));
  const bare = await startBare({ port: PORT, nodeArgs: profArgs(bareDir) });
  const bareRun = await sendPushes(bare.url, { bodies, connections: CONNECTIONS, duration: DURATION_S });
  await bare.stop();
  const bareProfile = await onlyProfileIn(bareDir);
  await keepProfile(bareDir, options.keep, 'bare-hmac-server');

  const apiDir = await mkdtemp(path.join(os.tmpdir(), 'ordersync-prof-api-'));
  const names = isolated('profile');
  const service = await startService(serviceEnv(names, { ROLE: 'api', PORT: String(PORT) }), { nodeArgs: profArgs(apiDir) });
  let apiRun;
  try {
    const url = `http://127.0.0.1:${PORT}/webhooks/1688`;
    await sendPushes(url, { bodies: pushBodies(2_000, 91_000_000), connections: 16, duration: 2 }); // warm-up
    apiRun = await sendPushes(url, { bodies, connections: CONNECTIONS, duration: DURATION_S });
  } finally {
    await service.stop();
    await cleanup(names);
  }
  const apiProfile = await onlyProfileIn(apiDir);
  await keepProfile(apiDir, options.keep, 'api');
  await rm(bareDir, { recursive: true, force: true });
  await rm(apiDir, { recursive: true, force: true });

  // The API's warm-up ran the handler too: only the last DURATION_S seconds of handler activity count.
  const apiStages = stagesOf(trimToLast(apiProfile, MARKER, DURATION_S * 1e6), MARKER);
  const bareStages = stagesOf(trimToLast(bareProfile, MARKER, DURATION_S * 1e6), MARKER);
  const apiPushes = apiRun.ok * Math.min(1, apiStages.spanUs / (DURATION_S * 1e6));
  const barePushes = bareRun.ok * Math.min(1, bareStages.spanUs / (DURATION_S * 1e6));
  const bareTotals = bareStages.totals;
  const stageNames = [...new Set([...apiStages.totals.keys(), ...bareTotals.keys()])].sort(
    (a, b) => (apiStages.totals.get(b) ?? 0) - (apiStages.totals.get(a) ?? 0),
  );
  const busy = (/** @type {Map<string, number>} */ totals) =>
    [...totals].filter(([stage]) => stage !== 'idle').reduce((sum, [, us]) => sum + us, 0);
  /** @type {import('./lib.mjs').Row[]} */
  const rows = stageNames.map((stage) => ({
    measure: stage,
    value: (apiStages.totals.get(stage) ?? 0) / apiPushes,
    unit: 'µs',
    baseline: (bareTotals.get(stage) ?? 0) / barePushes,
    baselineUnit: 'µs',
  }));
  rows.push(
    {
      measure: '**CPU per push, all stages but idle**',
      value: busy(apiStages.totals) / apiPushes,
      unit: 'µs',
      baseline: busy(bareTotals) / barePushes,
      baselineUnit: 'µs',
      ratio: busy(apiStages.totals) / apiPushes / (busy(bareTotals) / barePushes),
    },
    {
      measure: 'pushes answered per second while profiled',
      value: apiRun.rps,
      unit: '/s',
      baseline: bareRun.rps,
      ratio: apiRun.rps / bareRun.rps,
    },
  );
  return printTable(
    `Profile: µs of the API process's CPU per push, by stage (node --cpu-prof at ${INTERVAL_US} µs, ${DURATION_S} s closed loop, ${CONNECTIONS} connections; baseline: the bare HMAC server under the same load)`,
    rows,
  );
}

/**
 * A copy of the profile without the samples before the last `spanUs` of `marker` activity.
 *
 * @param {CpuProfile} profile
 * @param {RegExp} marker
 * @param {number} spanUs
 * @returns {CpuProfile}
 */
function trimToLast(profile, marker, spanUs) {
  const marked = new Set();
  /** @type {Map<number, number>} */
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  for (const node of profile.nodes) {
    for (let at = /** @type {number | undefined} */ (node.id); at !== undefined; at = parent.get(at)) {
      if (marker.test(/** @type {ProfileNode} */ (byId.get(at)).callFrame.functionName)) {
        marked.add(node.id);
        break;
      }
    }
  }
  /** @type {number[]} */
  const times = [];
  let t = profile.startTime;
  for (const delta of profile.timeDeltas) times.push((t += delta));
  let lastMarked = -1;
  profile.samples.forEach((id, i) => {
    if (marked.has(id)) lastMarked = i;
  });
  if (lastMarked < 0) return profile;
  const from = times.findIndex((time) => time >= times[lastMarked] - spanUs);
  return {
    ...profile,
    startTime: times[from] - profile.timeDeltas[from],
    samples: profile.samples.slice(from),
    timeDeltas: profile.timeDeltas.slice(from),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { keep: { type: 'string' } } });
  await benchProfile({ keep: values.keep });
}
