/**
 * The HTML report's style, which the live UI's page shares. The report's page script is a file of
 * its own, src/report/browser/report-page.js, read by loadPageAssets.
 */

export const PAGE_STYLE = `
.verdict { font-weight: 600; }
:root { --fg: #1f2933; --muted: #616e7c; --line: #d9e2ec; --ok: #1f7a3a; --bad: #b42318; --warn: #9a6700; --bg: #f7f9fb; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); margin: 0; padding: 24px 32px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 10px; }
.sub { color: var(--muted); margin: 0 0 16px; }
.meta { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 8px 24px; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; }
.meta div { display: flex; flex-direction: column; }
.meta dt { color: var(--muted); font-size: 12px; }
.meta dd { margin: 0; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
table.grid { border-collapse: collapse; background: #fff; border: 1px solid var(--line); font-variant-numeric: tabular-nums; }
.grid th, .grid td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
.grid th { background: #eef2f6; font-weight: 600; }
.grid td.text, .grid th.text { text-align: left; white-space: pre-wrap; }
.grid tr.aggregate td { background: #f3f6f9; font-weight: 600; }
.grid tr.type td { background: #f9fbfc; font-style: italic; }
.ok { color: var(--ok); font-weight: 600; }
.fail { color: var(--bad); font-weight: 600; }
.warnings li { color: var(--warn); margin-bottom: 4px; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }
.chart { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; min-width: 0; }
.chart h3 { font-size: 14px; margin: 0 0 2px; }
.chart p { color: var(--muted); font-size: 12px; margin: 0 0 6px; }
.chart .plot { min-height: 40px; }
.chart .empty { color: var(--muted); padding: 24px 0; }
footer { color: var(--muted); font-size: 12px; margin-top: 32px; }
`;
