import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { LatencySummary } from '../metrics/histogram.ts';
import type { Results, StatsRow } from '../metrics/results.ts';
import { writeReportFile } from './atomic-write.ts';
import { formatMs } from './console.ts';
import { formatThresholdValue } from './format.ts';
import { PAGE_STYLE } from './html-page.ts';
import { checkWritableFile } from './output-path.ts';
import type { Reporter } from './reporter.ts';

/** uPlot's script and style and the report's own page script, inlined so the page loads nothing from anywhere. */
export interface PageAssets {
  readonly uplotJs: string;
  readonly uplotCss: string;
  /** src/report/browser/report-page.js: draws the charts from the embedded results. */
  readonly reportScript: string;
}

/**
 * One step of a capacity search as `fleetsim.capacity/v1` holds it: the hook for the capacity
 * command, whose report draws these beside the run's own charts.
 */
export interface CapacityStepView {
  readonly devices: number;
  readonly rps: number;
  readonly latencyMs: Pick<LatencySummary, 'p50' | 'p95' | 'p99'>;
  readonly failureRate: number;
  readonly ok: boolean;
}

export interface HtmlReportInput {
  readonly results: Results;
  /** A capacity search's steps, and its verdict when the search produced one. */
  readonly capacity?: { readonly steps: readonly CapacityStepView[]; readonly verdict?: string };
}

let pageAssets: Promise<PageAssets> | undefined;

/**
 * uPlot from the installed package, so the repository never carries a second copy, and the page
 * script from beside this module (the sources under tsx, dist/ once built): read once per process.
 */
export function loadPageAssets(): Promise<PageAssets> {
  pageAssets ??= readPageAssets().catch((error: unknown) => {
    // A failed read is not kept: the next report tries again.
    pageAssets = undefined;
    throw error;
  });
  return pageAssets;
}

async function readPageAssets(): Promise<PageAssets> {
  const require = createRequire(import.meta.url);
  const [uplotJs, uplotCss, reportScript] = await Promise.all([
    readFile(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
    readFile(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    readFile(new URL('./browser/report-page.js', import.meta.url), 'utf8'),
  ]);
  return { uplotJs, uplotCss, reportScript };
}

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char);
}

/** JSON for a `<script type="application/json">`: no `<` survives, so no name can close the tag or open a comment. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Inlined code must not end its own `<script>`/`<style>` element early. */
function inlineSafe(code: string, element: 'script' | 'style'): string {
  return code.replace(new RegExp(`</(${element})`, 'gi'), '<\\/$1');
}

const cell = (text: string | number, className?: string): string => `<td${className ? ` class="${className}"` : ''}>${escapeHtml(String(text))}</td>`;
const head = (titles: readonly string[], textColumns = 0): string => `<tr>${titles.map((title, i) => `<th${i < textColumns ? ' class="text"' : ''}>${escapeHtml(title)}</th>`).join('')}</tr>`;

function metadata(results: Results): string {
  const generator = results.generator;
  const drained = results.durationS - results.activeS >= 0.1 ? ` (${results.activeS} s of load)` : '';
  const busy = generator.eventLoopBusyPercent === undefined ? '' : `, event loop busy ${generator.eventLoopBusyPercent}%`;
  const processCpu = generator.processCpuPercent === undefined ? '' : ` (process ${generator.processCpuPercent}%)`;
  const saturated =
    results.saturation.intervals === 0 ? 'never saturated' : `saturated in ${results.saturation.intervals} interval${results.saturation.intervals === 1 ? '' : 's'} (${results.saturation.seconds} s)`;
  const items: [string, string][] = [
    ['Seed', results.seed],
    ['Profile', results.profile.path],
    ['Profile sha256', results.profile.sha256.slice(0, 16)],
    ['Devices', `${results.devices.started} started of ${results.devices.target} target; ${results.devices.online} online at stop`],
    ['Started', results.startedAt],
    ['Duration', `${results.durationS} s${drained}`],
    ['Stop reason', results.stopReason],
    ['Requests', `${results.total.requests} (${results.total.failures} failed), ${results.total.rps} req/s`],
    ['Generator', `CPU ${generator.cpuPercent}% of a core${processCpu}${busy}, lag p99 ${generator.eventLoopLagP99Ms} ms, max RSS ${Math.round(generator.maxRssBytes / 1048576)} MB`],
    ['Generator saturation', saturated],
  ];
  const host = [
    generator.runQueuePercent === undefined ? '' : `waited for a CPU ${generator.runQueuePercent}% of the run`,
    generator.otherCpuPercent === undefined ? '' : `other processes used ${generator.otherCpuPercent}% of the CPU`,
  ].filter(Boolean);
  if (host.length > 0) items.push(['Machine', host.join('; ')]);
  if (results.load?.deliveredShare != null)
    items.push(['Load', `${results.load.deliveredRps} of ${results.load.offeredRps} offered per second (${Math.round(results.load.deliveredShare * 1000) / 10}%)`]);
  const cause = results.abandonCause;
  if (results.abandoned > 0)
    items.push([cause === 'second interrupt' ? 'Abandoned at a second interrupt' : cause === 'drain timeout' ? 'Abandoned at the drain timeout' : `Abandoned (${cause})`, String(results.abandoned)]);
  if (results.shard.count > 1) items.push(['Shard', `${results.shard.index + 1} of ${results.shard.count}`]);
  return `<dl class="meta">${items.map(([term, value]) => `<div><dt>${escapeHtml(term)}</dt><dd>${escapeHtml(value)}</dd></div>`).join('')}</dl>`;
}

/** The load verdict, first on the page: was the offered load delivered, and if not, whose limit it was. */
function loadVerdict(results: Results): string {
  const load = results.load;
  if (!load) return '';
  const className = load.cause === 'delivered' ? 'ok' : 'fail';
  const word = load.cause === 'delivered' ? 'Delivered' : load.cause === 'target' ? "FAILED: the target's limit" : 'INCONCLUSIVE';
  const advice = load.advice ? ` ${escapeHtml(load.advice)}.` : '';
  const overran = results.overran ? ` The run overran its planned ${results.overran.plannedS} s by ${results.overran.byS} s.` : '';
  return `<p class="verdict" id="load-verdict"><span class="${className}">${escapeHtml(word)}</span>: ${escapeHtml(load.summary)}.${advice}${escapeHtml(overran)}</p>`;
}

function thresholds(results: Results): string {
  if (results.thresholds.length === 0) return '<p class="sub">No thresholds were set.</p>';
  const failed = results.thresholds.filter((threshold) => !threshold.ok).length;
  const rows = results.thresholds.map((threshold) => {
    const value = threshold.value === null ? (threshold.reason ?? 'not evaluable') : formatThresholdValue(threshold);
    const mark = `${threshold.ok ? 'ok' : 'FAIL'}${threshold.inconclusive ? ' (inconclusive)' : ''}`;
    return `<tr>${cell(mark, threshold.ok ? 'ok' : 'fail')}${cell(threshold.expr, 'text')}${cell(threshold.row ?? results.bareThresholdsRead, 'text')}${cell(value)}</tr>`;
  });
  const verdict = failed === 0 ? '<span class="ok">all passed</span>' : `<span class="fail">${failed} failed</span>`;
  return `<p>${results.thresholds.length} threshold${results.thresholds.length === 1 ? '' : 's'}: ${verdict}</p><table class="grid" id="thresholds">${head(['Verdict', 'Threshold', 'Row read', 'Value'], 3)}${rows.join('')}</table>`;
}

const STATS_COLUMNS = ['Type', 'Name', 'Requests', 'Failures', 'Median', 'Avg', 'Min', 'Max', 'p90', 'p95', 'p99', 'p99.9', 'req/s', 'fail/s'] as const;

function statsCells(row: StatsRow, className: string): string {
  const latency = row.latencyMs;
  const failurePct = row.requests === 0 ? 0 : (row.failures / row.requests) * 100;
  const cells = [
    cell(row.type, 'text'),
    cell(row.name, 'text'),
    cell(row.requests),
    cell(`${row.failures} (${failurePct.toFixed(2)}%)`, row.failures > 0 ? 'fail' : undefined),
    ...[latency.p50, latency.mean, latency.min, latency.max, latency.p90, latency.p95, latency.p99, latency.p999].map((ms) => cell(formatMs(ms))),
    cell(row.rps.toFixed(2)),
    cell(row.failuresPerS.toFixed(2)),
  ];
  return `<tr${className ? ` class="${className}"` : ''}>${cells.join('')}</tr>`;
}

function statsTable(results: Results): string {
  // A type's aggregate over a single row that saw traffic repeats that row, and one type's aggregate
  // is the run's: either would print the same figures twice.
  const active = new Map<string, number>();
  for (const row of results.stats) if (row.requests > 0) active.set(row.type, (active.get(row.type) ?? 0) + 1);
  const typeRows = results.types.length > 1 ? results.types.filter((row) => row.type.includes('+') || (active.get(row.type) ?? 0) > 1) : [];
  const rows = [...results.stats.map((row) => statsCells(row, '')), ...typeRows.map((row) => statsCells(row, 'type')), statsCells(results.total, 'aggregate')];
  return `<table class="grid" id="stats">${head(STATS_COLUMNS, 2)}${rows.join('')}</table><p class="sub">Latencies in ms from HDR histograms; '-' where a row has no samples.</p>`;
}

function failuresTable(results: Results): string {
  if (results.failures.length === 0) return '<p class="sub">No failures.</p>';
  const rows = results.failures.map((failure) => `<tr>${cell(failure.type, 'text')}${cell(failure.name, 'text')}${cell(failure.error, 'text')}${cell(failure.count)}</tr>`);
  return `<table class="grid" id="failures">${head(['Type', 'Name', 'Error', 'Count'], 3)}${rows.join('')}</table>`;
}

function warnings(results: Results): string {
  if (results.warnings.length === 0) return '<p class="sub">None.</p>';
  return `<ul class="warnings">${results.warnings.map((warning) => `<li>${escapeHtml(warning)}</li>`).join('')}</ul>`;
}

function chart(id: string, title: string, note: string): string {
  return `<div class="chart" data-chart="${id}"><h3>${escapeHtml(title)}</h3><p>${escapeHtml(note)}</p><div class="plot"></div></div>`;
}

/** Rows that set a session up rather than carry its traffic: charted apart. */
const SESSION_SETUP = new Set(['CONNECT', 'SUBSCRIBE']);

/** What the run concluded, first on the page: the load verdict, the thresholds' tally with each value, a capacity answer. */
function verdictSection(input: HtmlReportInput): string {
  const results = input.results;
  const parts = [loadVerdict(results)];
  if (results.thresholds.length > 0) {
    const failed = results.thresholds.filter((threshold) => !threshold.ok);
    const tally = failed.length === 0 ? '<span class="ok">all passed</span>' : `<span class="fail">${failed.length} failed</span>`;
    const each = results.thresholds.map(
      (threshold) => `${escapeHtml(threshold.expr)} (${escapeHtml(threshold.value === null ? (threshold.reason ?? 'not evaluable') : formatThresholdValue(threshold))}${threshold.ok ? '' : ', FAIL'})`,
    );
    parts.push(`<p class="verdict" id="threshold-verdict">${results.thresholds.length} threshold${results.thresholds.length === 1 ? '' : 's'}: ${tally}: ${each.join('; ')}</p>`);
  }
  if (input.capacity?.verdict !== undefined) parts.push(`<p class="verdict" id="capacity-verdict">${escapeHtml(input.capacity.verdict)}</p>`);
  return `<section id="verdict">${parts.join('')}</section>`;
}

function charts(results: Results): string {
  const limits = results.saturation.limits;
  return `<div class="charts">
${chart('rps', 'Requests and failures per second', 'All rows together, per interval; the dashed line is the rate the fleet meant to offer.')}
${chart('latency', 'Latency over time', 'p50 (solid), p95 (dashed), p99 (dotted) per row, in ms; rows without samples in an interval leave a gap.')}
${results.stats.some((row) => SESSION_SETUP.has(row.type)) ? chart('setup', 'Session setup latency', 'CONNECT and SUBSCRIBE, p50 (solid), p95 (dashed), p99 (dotted), in ms: apart from the traffic, whose scale they would flatten.') : ''}
${chart('devices', 'Devices online', 'Online at the end of each interval, against the target and, with device lifecycles (sleeps, reboots, offline windows), against the devices the plan has on the network.')}
${chart('generator', "The generator's own load", `Event-loop busy share and lag; shaded intervals were saturated (busy >= ${limits.busyPercent}% or lag >= ${limits.lagP99Ms} ms), and their latencies include the generator's delay.`)}
</div>`;
}

/** Steps in device order (a refining search measures them out of order), as the chart's x axis needs. */
function stepsByDevices(input: HtmlReportInput): readonly CapacityStepView[] {
  return [...(input.capacity?.steps ?? [])].sort((a, b) => a.devices - b.devices);
}

function capacitySection(input: HtmlReportInput): string {
  const steps = stepsByDevices(input);
  if (steps.length === 0) return '';
  const knee = steps.find((step) => !step.ok)?.devices;
  const rows = steps.map(
    (step) =>
      `<tr>${cell(step.devices)}${cell(step.rps.toFixed(2))}${cell(formatMs(step.latencyMs.p95))}${cell(formatMs(step.latencyMs.p99))}${cell(`${(step.failureRate * 100).toFixed(2)}%`)}${cell(step.ok ? 'ok' : step.devices === knee ? 'FAIL (knee)' : 'FAIL', step.ok ? 'ok' : 'fail')}</tr>`,
  );
  return `<section id="capacity"><h2>Capacity steps</h2><div class="charts">${chart('capacity', 'Throughput and p95 by devices', 'One point per step; the first failing step is the knee.')}</div>
<table class="grid">${head(['Devices', 'req/s', 'p95', 'p99', 'Failures', 'SLOs'])}${rows.join('')}</table></section>`;
}

/** The whole report as one HTML document that references nothing outside itself. */
export function htmlReport(input: HtmlReportInput, assets: PageAssets): string {
  const { results } = input;
  const title = `fleetsim report: ${results.profile.path}`;
  const data = { results, ...(input.capacity ? { capacity: { ...input.capacity, steps: stepsByDevices(input) } } : {}) };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${inlineSafe(assets.uplotCss, 'style')}</style>
<style>${PAGE_STYLE}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="sub">${escapeHtml(`${results.startedAt} to ${results.endedAt}, ${results.tool.name} ${results.tool.version}`)}</p>
${verdictSection(input)}
${metadata(results)}
<h2>Thresholds</h2>
${thresholds(results)}
<h2>Over time</h2>
${charts(results)}
${capacitySection(input)}
<h2>Requests</h2>
${statsTable(results)}
<h2>Failures</h2>
${failuresTable(results)}
<h2>Warnings</h2>
${warnings(results)}
<footer>A self-contained report: the results are embedded below as JSON (fleetsim.results/v1) and the charts are drawn with uPlot, inlined.</footer>
<script type="application/json" id="fleetsim-data">${scriptJson(data)}</script>
<script>${inlineSafe(assets.uplotJs, 'script')}</script>
<script>${inlineSafe(assets.reportScript, 'script')}</script>
</body>
</html>
`;
}

/** `--html FILE`: one self-contained page with the run's tables and charts. */
export function htmlReporter(file: string): Reporter {
  return {
    flag: '--html',
    prepare: () => checkWritableFile('--html', file),
    finish: async (results: Results) => writeReportFile(file, htmlReport({ results }, await loadPageAssets())),
  };
}
