#!/usr/bin/env bash
# Packaging as a user meets it: in a fresh clone, a production install succeeds; `npm pack` yields
# a tarball holding the built dist/; installed into an empty folder with --omit=dev, that tarball
# runs its iot-node profile against the embedded fixture with no failures, and a strict TypeScript
# consumer compiles against its declarations and runs a plan in one call. Uses the committed tree.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/fleetsim-package-XXXXXX")"
trap 'rm -rf "$work"' EXIT
quiet=(--no-audit --no-fund --loglevel=error)

git clone --quiet "$root" "$work/clone"
cd "$work/clone"
echo "check-package: npm ci --omit=dev in a fresh clone"
npm ci --omit=dev "${quiet[@]}"
# No TypeScript there, so no dist/: the CLI says how to build, in one line, exit 2.
set +e
unbuilt="$(node bin/fleetsim.js --version 2>&1)"
status=$?
set -e
if [ "$status" != 2 ] || [ "$(wc -l <<<"$unbuilt")" != 1 ] || ! grep -q 'npm run build' <<<"$unbuilt"; then
  echo "check-package: bin/fleetsim.js without dist/ exited $status with:" >&2
  echo "$unbuilt" >&2
  exit 1
fi

echo "check-package: npm ci, then npm pack"
# Every package in the lock supports the Node this runs on: no EBADENGINE warnings.
install_log="$(npm ci --no-audit --no-fund --loglevel=warn 2>&1)"
if grep -q EBADENGINE <<<"$install_log"; then
  echo "check-package: npm ci warned of unsupported engines:" >&2
  grep EBADENGINE <<<"$install_log" >&2
  exit 1
fi
tarball="$(npm pack --silent --pack-destination "$work")"
listing="$(tar -tzf "$work/$tarball")"
for file in dist/src/cli/main.js dist/src/index.js dist/src/index.d.ts dist/src/run/run-plan.d.ts dist/broker-fixture/fixture-worker.js dist/src/ui/browser/live-page.js dist/src/report/browser/report-page.js; do
  grep -qx "package/$file" <<<"$listing" || { echo "check-package: $tarball has no $file" >&2; exit 1; }
done

echo "check-package: install $tarball into an empty folder with --omit=dev and run it"
mkdir "$work/user" && cd "$work/user"
npm init -y >/dev/null
npm install --omit=dev "${quiet[@]}" "$work/$tarball"
npx --no-install fleetsim run node_modules/fleetsim/profiles/iot-node.yaml -u 10 -t 3s --quiet --json "$work/user/results.json" --html "$work/user/report.html" >/dev/null
node -e '
  const results = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
  if (results.total.requests === 0 || results.total.failures !== 0) { console.error(`check-package: ${results.total.requests} requests, ${results.total.failures} failures`); process.exit(1); }
  console.log(`check-package: ok: the installed tarball ran ${results.total.requests} requests, 0 failures`);
' "$work/user/results.json"
node --input-type=module -e '
  const fleetsim = await import("fleetsim");
  for (const name of ["runPlan", "runProfile", "loadRunPlan", "Engine", "resultsOf", "buildResults", "mergeResults", "startFixtures", "FleetsimError"]) if (typeof fleetsim[name] !== "function") throw new Error(`fleetsim exports no ${name}`);
  console.log("check-package: ok: import(\"fleetsim\") gives the library entry points");
'
# The report inlines its page script (src/report/browser/report-page.js), read from the installed dist/.
grep -q "setAttribute('data-charts-ready'" "$work/user/report.html" || { echo "check-package: the --html report has no page script" >&2; exit 1; }
if grep -qE '<script[^>]* src=' "$work/user/report.html"; then echo "check-package: the --html report loads a script" >&2; exit 1; fi
echo "check-package: ok: the installed tarball's --html report inlines its page script"
# The live UI serves its page with its script inlined (src/ui/browser/live-page.js).
ui_log="$work/user/ui.log"
# Started as node itself (not through npx), so $! is the server and the kill below ends it.
node node_modules/fleetsim/bin/fleetsim.js ui node_modules/fleetsim/profiles/iot-node.yaml --ui-port 0 >"$ui_log" 2>&1 &
ui_pid=$!
ui_url=""
for _ in $(seq 1 100); do
  ui_url="$(grep -oE 'http://[^ ]+' "$ui_log" | head -1 || true)"
  [ -n "$ui_url" ] && break
  kill -0 "$ui_pid" 2>/dev/null || break
  sleep 0.1
done
ui_page="$(if [ -n "$ui_url" ]; then node -e 'fetch(process.argv[1]).then((r) => r.text()).then((t) => process.stdout.write(t), () => process.exit(1))' "$ui_url"; fi || true)"
kill "$ui_pid" 2>/dev/null || true
wait "$ui_pid" 2>/dev/null || true
if ! grep -q "window.__ui = {" <<<"$ui_page"; then
  echo "check-package: the installed tarball's UI page (${ui_url:-no URL}) has no page script; its output:" >&2
  cat "$ui_log" >&2
  exit 1
fi
echo "check-package: ok: the installed tarball's UI serves its page with its script inlined"

echo "check-package: a strict TypeScript consumer of the tarball's declarations"
# The clone's TypeScript and @types/node stand in for the consumer's own; nothing else is installed.
cat >"$work/user/tsconfig.json" <<'JSON'
{
  "compilerOptions": {
    "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext",
    "strict": true, "noUncheckedIndexedAccess": true, "exactOptionalPropertyTypes": true,
    "skipLibCheck": false, "types": ["node"], "typeRoots": ["../clone/node_modules/@types"], "outDir": "out"
  },
  "files": ["consumer.mts"]
}
JSON
cat >"$work/user/consumer.mts" <<'TS'
import { FleetsimError, MergeError, mergeResults, runProfile } from 'fleetsim';
import type { Results, RunProfileOptions } from 'fleetsim';

const options: RunProfileOptions = { devices: 5, iterations: 2, seed: '3' };
const results: Results = await runProfile('node_modules/fleetsim/profiles/iot-node-flat-out.yaml', options);
// Each device registers once, then runs its two iterations.
if (results.total.requests !== 15 || results.total.failures !== 0) throw new Error(`${results.total.requests} requests, ${results.total.failures} failures`);
try {
  mergeResults([{ schema: 'someone-else/v3' }] as unknown as Results[]);
  throw new Error('mergeResults took a foreign object');
} catch (error) {
  if (!(error instanceof MergeError) || !(error instanceof FleetsimError) || error.code !== 'FLEETSIM_MERGE') throw error;
}
console.log(`check-package: ok: a strict TypeScript consumer ran ${results.total.requests} requests in one call`);
TS
(cd "$work/user" && node "$work/clone/node_modules/typescript/bin/tsc" -p tsconfig.json && node out/consumer.mjs)
