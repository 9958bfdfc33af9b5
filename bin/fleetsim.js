#!/usr/bin/env node
// Runs the compiled CLI; `npm run build` (run by `npm ci` through `prepare`) produces dist/.
import { main } from "../dist/src/cli/main.js";

await main(process.argv.slice(2));
