/**
 * The SRE pack (deploy/prometheus, deploy/grafana, docs/runbook.md), checked against the service:
 *
 * - every metric that an alert or a dashboard panel names is one the service exports: the source of
 *   truth is the service's own metrics registry (it lists every metric, also the counters that have
 *   no sample until a rare event), and a scrape of /metrics after a little traffic shows the
 *   endpoint serves them; label names in selectors are the metric's own;
 * - fleet-wide gauges (scope="fleet") are aggregated with max(), never sum();
 * - promtool checks the rules and runs their unit tests (alerts.test.yml). promtool is required:
 *   without it the test fails and says to run .ci/install-tools.sh (CI does);
 * - every alert has its section in the runbook, and every dashboard panel a data source and a query.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { MetricsService } from '../src/metrics/metrics.service.js';
import { api, orderMessage, push1688 } from './support/http.js';
import { eventually, startTestService, type TestService } from './support/service.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');

const ALERTS_FILE = 'deploy/prometheus/alerts.yml';
const ALERT_TESTS_FILE = 'deploy/prometheus/alerts.test.yml';
const PROMETHEUS_CONFIG = 'deploy/prometheus/prometheus.yml';
const DASHBOARD_FILE = 'deploy/grafana/ordersync-dashboard.json';
const RUNBOOK_FILE = 'docs/runbook.md';

/**
 * Names the alerts or the dashboard use that the service does NOT export, on purpose. Each needs a
 * reason; anything else missing from the registry fails the test.
 */
const NOT_FROM_THE_SERVICE = new Map<string, string>([
  ['up', "Prometheus's own per-target series (OrdersyncTargetDown)"],
  ['redis_memory_used_bytes', 'redis_exporter, not ordersync: the service does not export Redis memory (OrdersyncRedisMemoryHigh)'],
  ['redis_memory_max_bytes', 'redis_exporter, not ordersync (OrdersyncRedisMemoryHigh)'],
]);

/** Labels Prometheus adds to every scraped series (target labels), valid in any selector. */
const TARGET_LABELS = new Set(['job', 'instance', 'namespace', 'pod']);

// ------------------------------------------------------------------------------------------------
// The files

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const alertGroups: { name: string; rules: AlertRule[] }[] = parse(read(ALERTS_FILE)).groups;
const alerts = alertGroups.flatMap((group) => group.rules);

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: { expr?: string; refId?: string; datasource?: { type?: string; uid?: string } }[];
  panels?: Panel[];
}

const dashboard = JSON.parse(read(DASHBOARD_FILE));
const allPanels: Panel[] = (dashboard.panels as Panel[]).flatMap((panel) => [panel, ...(panel.panels ?? [])]);
const queryPanels = allPanels.filter((panel) => panel.type !== 'row');

/** Every PromQL expression of the pack, with where it comes from. */
function expressions(): { where: string; expr: string }[] {
  const found = alerts.map((rule) => ({ where: `alert ${rule.alert}`, expr: rule.expr }));
  for (const panel of queryPanels)
    for (const target of panel.targets ?? []) found.push({ where: `panel "${panel.title}" (${target.refId})`, expr: target.expr ?? '' });
  // Template variables: label_values(<selector>, <label>) names a metric too.
  for (const variable of dashboard.templating.list as { name: string; type: string; query?: unknown }[]) {
    if (variable.type !== 'query') continue;
    const query = typeof variable.query === 'string' ? variable.query : (variable.query as { query: string }).query;
    const selector = /^\s*label_values\(\s*(.+?)\s*,\s*\w+\s*\)\s*$/.exec(query)?.[1];
    if (!selector) throw new Error(`variable $${variable.name}: only label_values(<selector>, <label>) queries are understood: ${query}`);
    found.push({ where: `variable $${variable.name}`, expr: selector });
  }
  return found;
}

// ------------------------------------------------------------------------------------------------
// A small PromQL reader: enough for metric names, selectors and the aggregation around a metric

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'inf',
  'nan',
]);
const AGGREGATIONS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
]);

/** The expression with every string literal emptied, same length (so positions still match), and Grafana's $variables made neutral. */
function blankStrings(expr: string): string {
  return expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, (literal) => `"${' '.repeat(literal.length - 2)}"`)
    .replace(/\$\{?\w+\}?/g, (variable) => '1'.repeat(variable.length));
}

/** The metric names an expression reads: identifiers that are not functions, aggregations, keywords or label names. */
function metricNames(expr: string): string[] {
  const bare = blankStrings(expr)
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges and subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // label lists
    .replace(/\boffset\s+-?\w+/g, ' ');
  const names = new Set<string>();
  for (const match of bare.matchAll(/(?<![\w:.])([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    if (match[2]) continue; // a function or an aggregation
    if (KEYWORDS.has(match[1].toLowerCase())) continue;
    names.add(match[1]);
  }
  return [...names];
}

/** Each `name{matchers}` of an expression: the metric and the label names it matches on. */
function selectors(expr: string): { metric: string; labels: string[] }[] {
  const found: { metric: string; labels: string[] }[] = [];
  for (const match of expr.matchAll(/(?<![\w:.])([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}/g)) {
    const labels = [...match[2].matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1]);
    found.push({ metric: match[1], labels });
  }
  return found;
}

/**
 * The aggregation operators around each place the expression reads `metric`, innermost first
 * (functions such as max_over_time are looked through).
 */
function aggregationsAround(expr: string, metric: string): string[][] {
  const text = blankStrings(expr);
  const result: string[][] = [];
  for (const match of text.matchAll(new RegExp(`(?<![\\w:])${metric}(?![\\w:])`, 'g'))) {
    const around: string[] = [];
    let depth = 0;
    for (let i = (match.index ?? 0) - 1; i >= 0; i--) {
      const c = text[i];
      if (c === ')') depth++;
      else if (c === '(') {
        if (depth > 0) {
          depth--;
          continue;
        }
        // An open parenthesis around the metric: what stands before it? `max by (queue) (` or `max(`.
        const before = text.slice(0, i).replace(/\b(by|without)\s*\([^)]*\)\s*$/, '');
        const head = /([a-zA-Z_]\w*)\s*$/.exec(before)?.[1];
        if (head && AGGREGATIONS.has(head)) around.push(head);
      }
    }
    result.push(around);
  }
  return result;
}

// ------------------------------------------------------------------------------------------------
// promtool

function findPromtool(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin', '/sbin'];
  for (const dir of dirs) if (dir && existsSync(path.join(dir, 'promtool'))) return path.join(dir, 'promtool');
  return null;
}

function promtool(...args: string[]): { status: number | null; output: string } {
  const binary = findPromtool();
  if (!binary)
    throw new Error(
      'promtool is not installed. It comes from Debian\'s "prometheus" package: run `bash .ci/install-tools.sh` ' +
        '(CI runs it before the tests), or `apt-get install prometheus`.',
    );
  const run = spawnSync(binary, args, { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  return { status: run.status, output: `${run.stdout ?? ''}${run.stderr ?? ''}${run.error ? String(run.error) : ''}` };
}

// ------------------------------------------------------------------------------------------------
// The running service

let t: TestService;
let supplier: Server;
let scrape = '';
interface RegisteredMetric {
  name: string;
  type: string;
  help: string;
  labelNames: string[];
}
const registered = new Map<string, RegisteredMetric>();
/** Every series name the registry's metrics appear under in the text format (histograms: _bucket, _sum, _count). */
const exported = new Map<string, RegisteredMetric>();

beforeAll(async () => {
  // A supplier that takes every order, so that a dispatch call (and its result) happens.
  supplier = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(201, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ supplierOrderId: '167539019420549999' }));
    });
  });
  await new Promise<void>((resolve) => supplier.listen(0, '127.0.0.1', resolve));
  const { port } = supplier.address() as AddressInfo;
  t = await startTestService('srepack', { EXTERNAL_API_URL: `http://127.0.0.1:${port}/orders` });

  const metrics = t.service.app.get(MetricsService);
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    const single = metrics.registry.getSingleMetric(metric.name) as unknown as { labelNames?: readonly string[] } | undefined;
    const entry = { name: metric.name, type: String(metric.type), help: metric.help, labelNames: [...(single?.labelNames ?? [])] };
    registered.set(metric.name, entry);
    exported.set(metric.name, entry);
    if (entry.type === 'histogram' || entry.type === 'summary')
      for (const suffix of ['_bucket', '_sum', '_count']) exported.set(`${metric.name}${suffix}`, entry);
  }

  // A little traffic, so that the common series have samples: an accepted and a refused 1688 push,
  // an order (created, dispatched, its result recorded), a readiness probe.
  const message = orderMessage({ msgId: 910001, orderId: '167539019420549999', status: 'waitsellersend', sentAt: '2026-01-02 10:00:00' });
  expect((await push1688(t.baseUrl, message)).status).toBe(200);
  expect((await push1688(t.baseUrl, message, { secret: 'not-the-app-secret-0123456789' })).status).toBe(401);
  expect((await api(t.baseUrl, 'POST', '/orders', { id: 'SRE-PACK-1', payload: { sku: 'x' } })).status).toBe(201);
  expect((await fetch(`${t.baseUrl}/health/ready`)).status).toBe(200);
  scrape = await eventually(
    async () => {
      const text = await (await fetch(`${t.baseUrl}/metrics`)).text();
      const ready =
        /^ordersync_messages_applied_total\{[^}]*\} [1-9]/m.test(text) &&
        /^ordersync_dispatch_calls_total\{outcome="success"\} [1-9]/m.test(text) &&
        /^ordersync_job_duration_seconds_count\{[^}]*queue="dispatch-results"[^}]*\} [1-9]/m.test(text);
      return ready ? text : undefined;
    },
    15_000,
    'the pushed message applied and the order dispatched, in /metrics',
  );
});

afterAll(async () => {
  await t?.stop();
  await new Promise((resolve) => (supplier ? supplier.close(resolve) : resolve(undefined)));
});

// ------------------------------------------------------------------------------------------------

describe('the PromQL reader', () => {
  it('finds metric names and skips functions, aggregations, keywords, label names and variables', () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le, route) (rate(a_bucket{route="/x", job=~"$job"}[$__rate_interval]))) / on (job) group_left b and c > bool 1e3 unless ignoring (x) max(d offset 5m)',
      ).sort(),
    ).toEqual(['a_bucket', 'b', 'c', 'd']);
    expect(metricNames('time() - max(max_over_time(g{scope="fleet"}[10m])) > 900')).toEqual(['g']);
  });

  it('sees the aggregation around a metric', () => {
    expect(aggregationsAround('sum(max by (queue) (g{q=~"a(b)?"}))', 'g')).toEqual([['max', 'sum']]);
    expect(aggregationsAround('time() - max(max_over_time(g[10m]))', 'g')).toEqual([['max']]);
    expect(aggregationsAround('sum by (x) (rate(g[5m])) / g', 'g')).toEqual([['sum'], []]);
  });
});

describe('every metric the alerts and the dashboard name is exported by /metrics', () => {
  it('is in the service registry (or is listed, with a reason, as coming from elsewhere)', () => {
    const missing: string[] = [];
    for (const { where, expr } of expressions())
      for (const name of metricNames(expr)) if (!exported.has(name) && !NOT_FROM_THE_SERVICE.has(name)) missing.push(`${where}: ${name}`);
    expect(missing, `names no metric of the service has (the registry has: ${[...registered.keys()].join(', ')})`).toEqual([]);
  });

  it('the metrics named are served by /metrics (every one of them has its # TYPE line)', () => {
    const typed = new Set([...scrape.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    const used = new Set(expressions().flatMap(({ expr }) => metricNames(expr)));
    const unserved = [...used].filter((name) => exported.has(name) && !typed.has(exported.get(name)!.name));
    expect(unserved).toEqual([]);
    // Everything the registry holds is served, the Node default metrics under their standard names included.
    expect([...registered.keys()].filter((name) => !typed.has(name))).toEqual([]);
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_p99_seconds',
    ])
      expect(typed.has(name), name).toBe(true);
  });

  it('the traffic shows up as samples, with the label values the rules match on', () => {
    for (const line of [
      /^ordersync_webhook_messages_total\{source="1688",outcome="accepted",reason=""\} 1$/m,
      /^ordersync_webhook_messages_total\{source="1688",outcome="rejected",reason="signature"\} 1$/m,
      /^ordersync_http_request_duration_seconds_count\{method="GET",route="\/health\/ready",status_code="200"\} [1-9]/m,
      /^ordersync_queue_jobs\{queue="order-dispatch",state="dead_lettered",scope="fleet"\} \d+$/m,
      /^ordersync_queue_jobs\{queue="order-events",state="waiting",scope="fleet"\} \d+$/m,
      /^ordersync_queue_oldest_waiting_age_seconds\{queue="dispatch-results",scope="fleet"\} [\d.]+$/m,
      /^ordersync_db_pool_connections\{state="waiting"\} \d+$/m,
      /^ordersync_alibaba_newest_push_age_seconds\{scope="fleet"\} [\d.e-]+$/m,
      /^ordersync_supplier_status_lag_seconds_bucket\{le="\+Inf"\} [1-9]/m,
    ])
      expect(scrape).toMatch(line);
  });

  it('selectors match on labels the metric has', () => {
    const wrong: string[] = [];
    for (const { where, expr } of expressions())
      for (const { metric, labels } of selectors(expr)) {
        const entry = exported.get(metric);
        if (!entry) continue; // not ours (checked above)
        const known = new Set([...entry.labelNames, ...TARGET_LABELS, ...(metric.endsWith('_bucket') ? ['le'] : [])]);
        for (const label of labels) if (!known.has(label)) wrong.push(`${where}: ${metric}{${label}} (has ${[...known].join(', ')})`);
      }
    expect(wrong).toEqual([]);
  });

  it('fleet-wide gauges are aggregated with max(), never sum()', () => {
    const fleet = [...registered.values()].filter((m) => m.labelNames.includes('scope') || /fleet-wide/.test(m.help)).map((m) => m.name);
    expect(fleet).toEqual(
      expect.arrayContaining([
        'ordersync_queue_jobs',
        'ordersync_queue_oldest_waiting_age_seconds',
        'ordersync_alibaba_newest_push_age_seconds',
      ]),
    );
    const wrong: string[] = [];
    for (const { where, expr } of expressions()) {
      if (where.startsWith('variable')) continue; // label_values() reads labels, not values
      for (const name of fleet)
        for (const around of aggregationsAround(expr, name))
          if (around[0] !== 'max') wrong.push(`${where}: ${name} under ${around[0] ?? 'no aggregation'}`);
    }
    expect(wrong).toEqual([]);
  });
});

describe('the alert rules', () => {
  it('promtool check rules passes', () => {
    const run = promtool('check', 'rules', ALERTS_FILE);
    expect(run.status, run.output).toBe(0);
  });

  it('promtool test rules passes (alerts.test.yml)', () => {
    const run = promtool('test', 'rules', ALERT_TESTS_FILE);
    expect(run.status, run.output).toBe(0);
  });

  it('the example Prometheus configuration is valid (promtool check config)', () => {
    const run = promtool('check', 'config', PROMETHEUS_CONFIG);
    expect(run.status, run.output).toBe(0);
  });

  it('every alert has a firing and a quiet unit test', () => {
    const cases: { alertname: string; exp_alerts?: unknown[] }[] = parse(read(ALERT_TESTS_FILE)).tests.flatMap(
      (test: { alert_rule_test?: unknown[] }) => test.alert_rule_test ?? [],
    );
    for (const rule of alerts) {
      const mine = cases.filter((c) => c.alertname === rule.alert);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${rule.alert} fires in a test`,
      ).toBe(true);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${rule.alert} stays quiet in a test`,
      ).toBe(true);
    }
  });

  it('every alert has a severity, a summary, a description and a runbook section', () => {
    const runbook = read(RUNBOOK_FILE);
    const anchors = new Set(
      [...runbook.matchAll(/^#{1,6}\s+(.+?)\s*$/gm)].map((m) =>
        m[1]
          .toLowerCase()
          .replace(/[^\w\- ]/g, '')
          .replace(/ /g, '-'),
      ),
    );
    expect(new Set(alerts.map((rule) => rule.alert)).size).toBe(alerts.length);
    for (const rule of alerts) {
      expect(['warning', 'critical'], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.description, rule.alert).toBeTruthy();
      const url = rule.annotations?.runbook_url ?? '';
      const anchor = /^docs\/runbook\.md#([\w-]+)$/.exec(url)?.[1];
      expect(anchor, `${rule.alert}: runbook_url ${url}`).toBe(rule.alert.toLowerCase());
      expect(anchors.has(anchor!), `${rule.alert}: docs/runbook.md has a section #${anchor}`).toBe(true);
    }
    for (const section of ['deploying', 'scaling', 'upgrading-with-migrations', 'rotating-secrets'])
      expect(anchors.has(section), section).toBe(true);
    // Links inside the runbook go to sections that exist.
    for (const link of runbook.matchAll(/\]\(#([\w-]+)\)/g)) expect(anchors.has(link[1]), `runbook link #${link[1]}`).toBe(true);
  });
});

describe('the dashboard', () => {
  it('has a Prometheus data source variable and every panel queries through it', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const variable = dashboard.templating.list.find((v: { name: string }) => v.name === 'datasource');
    expect(variable).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(queryPanels.length).toBeGreaterThan(10);
    expect(new Set(allPanels.map((p) => p.id)).size).toBe(allPanels.length);
    for (const panel of queryPanels) {
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets?.length, `${panel.title} has a query`).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) {
        expect(target.expr?.trim(), `${panel.title} ${target.refId}`).toBeTruthy();
        expect(target.datasource, `${panel.title} ${target.refId}`).toEqual({ type: 'prometheus', uid: '${datasource}' });
      }
    }
  });

  it('covers ingest, apply, backlog, dead letters, lag, dispatch, drift, 1688 silence, pool use, job and HTTP latency, Node', () => {
    const used = new Set(
      expressions()
        .filter(({ where }) => where.startsWith('panel'))
        .flatMap(({ expr }) => metricNames(expr)),
    );
    for (const name of [
      'ordersync_webhook_messages_total',
      'ordersync_messages_applied_total',
      'ordersync_queue_jobs',
      'ordersync_queue_oldest_waiting_age_seconds',
      'ordersync_supplier_status_lag_seconds_bucket',
      'ordersync_dispatch_calls_total',
      'ordersync_dispatch_lease_recoveries_total',
      'ordersync_reconcile_orders_total',
      'ordersync_pull_messages_total',
      'ordersync_alibaba_newest_push_age_seconds',
      'ordersync_db_pool_connections',
      'ordersync_job_duration_seconds_bucket',
      'ordersync_http_request_duration_seconds_bucket',
      'process_cpu_seconds_total',
      'nodejs_heap_size_used_bytes',
    ])
      expect(used.has(name), name).toBe(true);
  });
});
