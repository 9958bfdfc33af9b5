#!/usr/bin/env node
// Runs the compiled CLI; `npm run build` (run by `npm ci` through `prepare`) produces dist/.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
// A clone installed with --omit=dev has no TypeScript, so no build: say how to make one, not a stack trace.
if (!existsSync(entry)) {
  console.error('fleetsim: dist/ is not built: run `npm ci` (or `npm install`), then `npm run build`, in the fleetsim folder.');
  process.exit(2);
}
const { holdSignals } = await import(new URL('../dist/src/cli/early-signals.js', import.meta.url).href);
// Signals are held from the first line, before the rest of the CLI loads (see early-signals).
holdSignals();
// ps and top show the command rather than node's own arguments.
process.title = ['fleetsim', ...process.argv.slice(2)].join(' ');
const { main } = await import(entry.href);
await main(process.argv.slice(2));
