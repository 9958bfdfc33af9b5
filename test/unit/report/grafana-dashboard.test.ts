import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { RunStats } from '../../../src/metrics/stats.ts';
import { createFleetRegistry, METRIC_NAMES } from '../../../src/report/prometheus-metrics.ts';
import { parseExposition } from '../../helpers/prometheus-text.ts';

const DASHBOARD = new URL('../../../deploy/grafana/fleetsim-dashboard.json', import.meta.url);

/** PromQL's functions, aggregations and keywords the dashboard may use: every other name must be a metric. */
const PROMQL_WORDS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'count',
  'rate',
  'irate',
  'increase',
  'histogram_quantile',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'clamp_min',
  'clamp_max',
  'label_values',
]);

/** The metric names a PromQL expression reads: what is left once strings, label matchers, ranges, grouping lists and functions are gone. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    // Grafana's label_values(metric, label): the second argument is a label.
    .replace(/\blabel_values\(\s*([^,)]+),[^)]*\)/g, '$1');
  const names = [...bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)].map((match) => match[0]);
  return names.filter((name) => !PROMQL_WORDS.has(name) && !/^\d/.test(name));
}

interface Panel {
  readonly title: string;
  readonly targets?: readonly { readonly expr: string }[];
}

async function exported(): Promise<Set<string>> {
  const stats = new RunStats();
  const entry = stats.entryFor('GET', '/x');
  // A row the plan offers load on: the offered counter has a series only then.
  entry.offers = true;
  entry.offered = 1;
  entry.record('ok', undefined, 1500, -1, 10, false);
  const registry = createFleetRegistry(() => ({ entries: stats.entries, devicesOnline: 1, devicesTarget: 1, generator: { busyPercent: 1, lagP99Ms: 1, runQueuePercent: 0 } }), {
    processMetrics: false,
  });
  const families = parseExposition(await registry.metrics());
  return new Set([...families.values()].flatMap((family) => family.samples.map((sample) => sample.name)));
}

test('every query of the shipped Grafana dashboard names a metric fleetsim exports', async () => {
  const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as { panels: Panel[]; templating: { list: { query?: unknown }[] } };
  const names = await exported();
  const queries = [
    ...dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ where: panel.title, expr: target.expr }))),
    ...dashboard.templating.list.flatMap((variable) => (typeof variable.query === 'string' && variable.query.includes('(') ? [{ where: 'templating', expr: variable.query }] : [])),
  ];
  assert.ok(queries.length >= 10, `${queries.length} queries`);
  const used = new Set<string>();
  for (const { where, expr } of queries) {
    const read = metricNames(expr);
    assert.ok(read.length > 0, `${where}: '${expr}' reads no metric`);
    for (const name of read) {
      assert.ok(names.has(name), `${where}: '${name}' in '${expr}' is not a metric fleetsim exports (${[...names].join(', ')})`);
      used.add(name);
    }
  }
  // What the dashboard is for: rate, delivered share, latency per row, failures, devices against target, generator health.
  for (const needed of [
    METRIC_NAMES.requests,
    METRIC_NAMES.offered,
    METRIC_NAMES.deliveredShare,
    METRIC_NAMES.shortfall,
    `${METRIC_NAMES.latency}_bucket`,
    METRIC_NAMES.devicesOnline,
    METRIC_NAMES.devicesTarget,
    METRIC_NAMES.busy,
    METRIC_NAMES.lag,
  ]) {
    assert.ok(used.has(needed), `the dashboard shows ${needed}`);
  }
});

test('the name check itself: matchers, ranges and grouping are not metrics; a misspelt metric is caught', () => {
  assert.deepEqual(metricNames('histogram_quantile(0.95, sum by (le, type) (rate(fleetsim_request_duration_seconds_bucket{job=~"a|b", outcome!="ok"}[5m])))'), [
    'fleetsim_request_duration_seconds_bucket',
  ]);
  assert.deepEqual(metricNames('sum(rate(a_total[1m])) / sum(rate(b_total[1m]))'), ['a_total', 'b_total']);
  assert.deepEqual(metricNames('max by (cause) (fleetsim_load_shortfal)'), ['fleetsim_load_shortfal']);
});
