#!/usr/bin/env node
// Runs the compiled CLI; `npm run build` (run by `npm ci` through `prepare`) produces dist/.
import { holdSignals } from "../dist/src/cli/early-signals.js";

// Signals are held from the first line, before the rest of the CLI loads (see early-signals).
holdSignals();
// ps and top show the command rather than node's own arguments.
process.title = ["fleetsim", ...process.argv.slice(2)].join(" ");
const { main } = await import("../dist/src/cli/main.js");
await main(process.argv.slice(2));
