#!/usr/bin/env bash
# Packaging as a user meets it: in a fresh clone, a production install succeeds; `npm pack` yields
# a tarball holding the built dist/; installed into an empty folder with --omit=dev, that tarball
# runs its iot-node profile against the embedded fixture with no failures. Uses the committed tree.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/fleetsim-package-XXXXXX")"
trap 'rm -rf "$work"' EXIT
quiet=(--no-audit --no-fund --loglevel=error)

git clone --quiet "$root" "$work/clone"
cd "$work/clone"
echo "check-package: npm ci --omit=dev in a fresh clone"
npm ci --omit=dev "${quiet[@]}"

echo "check-package: npm ci, then npm pack"
npm ci "${quiet[@]}" >/dev/null
tarball="$(npm pack --silent --pack-destination "$work")"
listing="$(tar -tzf "$work/$tarball")"
for file in dist/src/cli/main.js dist/src/index.js dist/broker-fixture/fixture-worker.js; do
  grep -qx "package/$file" <<<"$listing" || { echo "check-package: $tarball has no $file" >&2; exit 1; }
done

echo "check-package: install $tarball into an empty folder with --omit=dev and run it"
mkdir "$work/user" && cd "$work/user"
npm init -y >/dev/null
npm install --omit=dev "${quiet[@]}" "$work/$tarball"
npx --no-install fleetsim run node_modules/fleetsim/profiles/iot-node.yaml -u 10 -t 3s --quiet --json "$work/user/results.json" >/dev/null
node -e '
  const results = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
  if (results.total.requests === 0 || results.total.failures !== 0) { console.error(`check-package: ${results.total.requests} requests, ${results.total.failures} failures`); process.exit(1); }
  console.log(`check-package: ok: the installed tarball ran ${results.total.requests} requests, 0 failures`);
' "$work/user/results.json"
node --input-type=module -e '
  const fleetsim = await import("fleetsim");
  for (const name of ["loadRunPlan", "Engine", "resultsOf", "buildResults", "mergeResults", "startFixtures"]) if (typeof fleetsim[name] !== "function") throw new Error(`fleetsim exports no ${name}`);
  console.log("check-package: ok: import(\"fleetsim\") gives the library entry points");
'
