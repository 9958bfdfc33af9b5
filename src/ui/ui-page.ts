import { readFile } from 'node:fs/promises';
import { escapeHtml, loadPageAssets } from '../report/html-report.ts';
import { PAGE_STYLE } from '../report/html-page.ts';

const UI_STYLE = `
header { display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; }
#status { font-weight: 600; padding: 2px 10px; border-radius: 10px; background: #e4e7eb; }
body[data-status="running"] #status { background: #d3f9d8; color: var(--ok); }
body[data-status="stopping"] #status { background: #fff3bf; color: var(--warn); }
.panel { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; margin: 12px 0; }
form.start { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 8px 16px; align-items: end; }
label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); gap: 2px; }
input { font: inherit; padding: 4px 6px; border: 1px solid var(--line); border-radius: 4px; }
button { font: inherit; padding: 5px 14px; border-radius: 4px; border: 1px solid #1d4ed8; background: #2563eb; color: #fff; cursor: pointer; }
button.stop { background: #dc2626; border-color: #b91c1c; }
button:disabled { opacity: .5; cursor: default; }
.controls { display: flex; gap: 12px; align-items: end; flex-wrap: wrap; }
.numbers { display: flex; gap: 28px; flex-wrap: wrap; font-variant-numeric: tabular-nums; }
.numbers div { display: flex; flex-direction: column; }
.numbers b { font-size: 20px; }
.numbers span { color: var(--muted); font-size: 12px; }
#banner { display: none; background: #fde8e8; color: var(--bad); border: 1px solid #f5b5b5; border-radius: 6px; padding: 8px 12px; margin: 12px 0; font-weight: 600; }
#banner.on { display: block; }
#error { color: var(--bad); min-height: 1.2em; }
#downloads a { margin-right: 14px; }
.models { color: var(--muted); }
#fleet .fail { color: var(--bad); font-weight: 600; }
`;

let liveScript: Promise<string> | undefined;

/** src/ui/browser/live-page.js, from beside this module (the sources under tsx, dist/ once built): read once per process. */
function loadLiveScript(): Promise<string> {
  liveScript ??= readFile(new URL('./browser/live-page.js', import.meta.url), 'utf8').catch((error: unknown) => {
    liveScript = undefined;
    throw error;
  });
  return liveScript;
}

/** The UI's one page: markup, style, uPlot and the script, all inline; it loads nothing from anywhere. */
export async function uiPage(): Promise<() => string> {
  const [assets, script] = await Promise.all([loadPageAssets(), loadLiveScript()]);
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fleetsim</title>
<link rel="icon" href="data:,">
<style>${assets.uplotCss.replace(/<\/(style)/gi, '<\\/$1')}</style>
<style>${PAGE_STYLE}${UI_STYLE}</style>
</head>
<body data-status="connecting">
<header><h1>fleetsim <span id="profile"></span></h1><span id="status">connecting</span><span class="models" id="models"></span></header>
<div id="banner" role="alert"></div>
<section class="panel" id="start-panel">
<form class="start" id="start-form">
<label>Devices<input name="devices" id="f-devices" inputmode="numeric"></label>
<label>Spawn rate (devices/s)<input name="spawnRate" id="f-spawnRate" inputmode="decimal"></label>
<label>Max devices (to raise to while running)<input name="maxDevices" id="f-maxDevices" inputmode="numeric"></label>
<label>Duration (empty: until stopped)<input name="duration" id="f-duration" placeholder="e.g. 5m"></label>
<label>Stages (instead of devices)<input name="stages" id="f-stages" placeholder="30s:10, 1m:50"></label>
<label>Target (HTTP)<input name="target" id="f-target" placeholder="embedded fixture"></label>
<label>Broker (MQTT)<input name="broker" id="f-broker" placeholder="embedded broker"></label>
<button type="submit" id="start">Start</button>
</form>
</section>
<section class="panel" id="run-panel">
<div class="controls">
<label>Devices<input id="set-devices" inputmode="numeric" size="8"></label>
<label>Spawn rate (devices/s)<input id="set-spawnRate" inputmode="decimal" size="8"></label>
<button type="button" id="apply-devices">Set devices</button>
<button type="button" class="stop" id="stop">Stop</button>
<button type="button" id="reset-stats" title="Counts, percentiles, failures and charts start again from now; the run goes on">Reset stats</button>
<span id="ceiling" class="models"></span>
<span id="reset-note" class="models"></span>
</div>
</section>
<div id="error" role="status"></div>
<p class="panel sub" id="fleet" hidden></p>
<section class="panel numbers" id="numbers">
<div><b id="n-elapsed">-</b><span>elapsed</span></div>
<div><b id="n-devices">-</b><span>devices online / target</span></div>
<div><b id="n-rps">-</b><span id="l-rps">requests/s</span></div>
<div><b id="n-fails">-</b><span id="l-fails">failures/s</span></div>
<div><b id="n-latency">-</b><span id="l-latency">p50 / p95 / p99 ms</span></div>
<div><b id="n-generator">-</b><span>generator: event loop busy, lag p99</span></div>
<div><b id="n-delivered">-</b><span>delivered of the offered load (trailing window)</span></div>
</section>
<h2>Requests</h2>
<table class="grid" id="stats"></table>
<p class="sub">Latencies in ms from HDR histograms; req/s over the run so far. The finished run shows the results' own numbers.</p>
<div class="charts">
<div class="chart" data-chart="rps"><h3>Requests and failures per second</h3><p>Per interval, all rows.</p><div class="plot"></div></div>
<div class="chart" data-chart="aggregate"><h3>Response time, all requests</h3><p>p50 (solid) and p95 (dashed) of the aggregated row per interval, ms.</p><div class="plot"></div></div>
<div class="chart" data-chart="latency"><h3>Latency</h3><p>p50 (solid), p95 (dashed), p99 (dotted) per row, ms.</p><div class="plot"></div></div>
<div class="chart" data-chart="devices"><h3>Devices</h3><p>Online against the target.</p><div class="plot"></div></div>
<div class="chart" data-chart="generator"><h3>The generator's own load</h3><p>Event-loop busy share and lag; above 90% busy or 50 ms lag its latencies include its own delay.</p><div class="plot"></div></div>
</div>
<section id="capacity" hidden>
<h2>Capacity steps</h2>
<p class="verdict" id="capacity-verdict"></p>
<div class="charts"><div class="chart" data-chart="capacity"><h3>Throughput and p95 by devices</h3><p>One point per step; the first failing step is the knee.</p><div class="plot"></div></div></div>
<table class="grid" id="capacity-steps"></table>
</section>
<h2>Thresholds</h2>
<table class="grid" id="thresholds"></table>
<h2>Failures</h2>
<table class="grid" id="failures"></table>
<h2>Downloads</h2>
<p id="downloads" class="sub">No run yet.</p>
<footer>fleetsim ${escapeHtml('live UI')}: numbers pushed from the run every second over Server-Sent Events; charts drawn with uPlot, served by fleetsim itself.</footer>
<script>${assets.uplotJs.replace(/<\/(script)/gi, '<\\/$1')}</script>
<script>${script.replace(/<\/(script)/gi, '<\\/$1')}</script>
</body>
</html>
`;
  return () => html;
}
