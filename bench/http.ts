import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fleet, locustInstalled, measureRounds, pinningNote, run, runFleetsimMeasured, runLocust } from './run-pinned.ts';
import type { Measured } from './run-pinned.ts';
import { besidePeers } from './peer-pairs.ts';
import type { PairedPeer } from './peer-pairs.ts';
import { flatOutPairing, plainOf, sideBySide } from './side-by-side.ts';
import type { Variant } from './side-by-side.ts';
import { nginxInstalled, startFixture, startNginx } from './targets.ts';

/**
 * HTTP throughput, fleetsim's iot-node-flat-out on each of its HTTP clients (undici, and its own:
 * `http.client: native`) side by side with autocannon, plain undici loops and Locust, all in this
 * one run: `npm run bench:http [devices] [seconds] [fixture|nginx] [rounds]`. Against the
 * fixture (the default: the peers' reference rates were measured on it) the faster tools take it to
 * its core's limit; nginx answers far cheaper, so against it the rates compare the generators alone.
 */
const devices = Number(process.argv[2] ?? 200);
const seconds = Number(process.argv[3] ?? 10);
const targetName = process.argv[4] ?? 'fixture';
const rounds = Number(process.argv[5] ?? 3);
const PROFILE_CONNECTIONS = 200;
if (targetName !== 'nginx' && targetName !== 'fixture') throw new Error(`unknown target ${targetName}: fixture or nginx`);
if (targetName === 'nginx' && !nginxInstalled) throw new Error('nginx is not installed (apt-get install nginx-light)');
const dir = await mkdtemp(path.join(tmpdir(), 'fleetsim-bench-'));
const fixture = targetName === 'nginx' ? await startNginx(dir) : await startFixture();

async function peer(tool: string, script: string, ...extra: string[]): Promise<Measured> {
  const out = JSON.parse(await run(0, process.execPath, ['--import', 'tsx', script, fixture.url, String(devices), String(seconds), ...extra])) as Omit<Measured, 'tool'>;
  return { tool, ...out };
}

/** profiles/iot-node-flat-out.yaml with the HTTP client named, whichever is the default. */
const UNDICI_PROFILE = 'bench/profiles/iot-node-flat-out-undici.yaml';
const NATIVE_PROFILE = 'bench/profiles/iot-node-flat-out-native.yaml';

async function fleetsim(client: string, profile: string): Promise<Measured> {
  const { results, cpuSeconds, maxRssBytes } = await runFleetsimMeasured(dir, `fleetsim-${client}`, fleet(profile, devices, devices * 10, seconds, '--target', fixture.url));
  if (results.total.failures > 0) throw new Error(`fleetsim (${client}) had failures: ${JSON.stringify(results.failures)}`);
  return { tool: `fleetsim ${client}`, messages: results.total.requests, seconds: results.activeS, cpuSeconds, maxRssBytes };
}

/**
 * The peers that can start at an instant, for the pairs beside fleetsim. Locust cannot be told when
 * to start: it is launched this much earlier, its measured start-up on this machine.
 */
const LOCUST_START_UP_MS = 1500;
const pairedPeers: readonly PairedPeer[] = [
  { label: 'autocannon (POST /data)', run: (startAt) => peer('autocannon (POST /data)', 'bench/peers/autocannon-run.ts', String(startAt)) },
  {
    label: 'Locust FastHttpUser iot-node',
    run: async (startAt) => {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, startAt - LOCUST_START_UP_MS - Date.now())));
      return runLocust('Locust FastHttpUser iot-node', 'bench/locust/iot_node.py', fixture.url, devices, seconds, dir);
    },
  },
];

/** The side-by-side variant that runs the same fleet on the native client: the pairing's profile argument swapped. */
const onNative: Variant = {
  label: 'http.client: native',
  run: (runDir, label, args) =>
    plainOf('native').run(
      runDir,
      label,
      args.map((arg) => (arg === UNDICI_PROFILE ? NATIVE_PROFILE : arg)),
    ),
};

try {
  const report = await measureRounds(
    fixture,
    rounds,
    [
      () => fleetsim('undici', UNDICI_PROFILE),
      () => fleetsim('native', NATIVE_PROFILE),
      () => peer('autocannon (POST /data)', 'bench/peers/autocannon-run.ts'),
      () => peer('undici Pool.request loop (POST /data)', 'bench/peers/undici-loop.ts', 'request'),
      () => peer('undici dispatch loop (POST /data)', 'bench/peers/undici-loop.ts', 'dispatch'),
      () => runLocust('Locust FastHttpUser iot-node', 'bench/locust/iot_node.py', fixture.url, devices, seconds, dir),
    ],
    'req',
  );
  if (!locustInstalled) console.log('Locust not found (apt-get install python3-locust): its row is left out.');
  const against = targetName === 'nginx' ? 'nginx (one worker)' : 'the standalone fixture';
  // A device holds one connection at a time, so the pool differs from the peers only above its size.
  const connections = devices <= PROFILE_CONNECTIONS ? 'devices/connections' : `devices (fleetsim's pool: the profile's ${PROFILE_CONNECTIONS} connections; the peers: ${devices})`;
  console.log(`HTTP, ${devices} ${connections} for ${seconds} s against ${against}; ${pinningNote()}.`);
  console.log('fleetsim and Locust mix POST /data, POST /health and GET /ota 10:1:1; autocannon and undici send POST /data only.');
  console.log(report);
  console.log('The machine may be shared: absolute rates move with its load, the ratios within a round much less, and those of runs side by side least.');
  for (const [client, profile] of [
    ['native', NATIVE_PROFILE],
    ['undici', UNDICI_PROFILE],
  ] as const) {
    console.log(await besidePeers(dir, rounds, `fleetsim ${client}`, fleet(profile, devices, devices * 10, seconds, '--target', fixture.url), pairedPeers));
  }
  console.log(await sideBySide(fixture, dir, Math.max(5, rounds), flatOutPairing(UNDICI_PROFILE, false, devices, seconds, fixture.url), onNative, plainOf('undici'), false));
  console.log(await sideBySide(fixture, dir, Math.max(5, rounds), flatOutPairing('profiles/iot-node-flat-out.yaml', false, devices, seconds, fixture.url)));
} finally {
  fixture.stop();
  await rm(dir, { recursive: true, force: true });
}
