import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pinningNote } from './run-pinned.ts';
import { flatOutPairing, sideBySide } from './side-by-side.ts';
import { startFixture, startMosquitto } from './targets.ts';

/**
 * What `--csv --html --metrics-port` cost the flat-out rate, side by side, without the peers:
 * `npm run bench:overhead -- [http|mqtt] [rounds] [devices] [seconds]`. bench:http and bench:mqtt end
 * with the same measurement.
 */
const protocol = process.argv[2] ?? 'http';
const rounds = Number(process.argv[3] ?? 5);
if (protocol !== 'http' && protocol !== 'mqtt') throw new Error(`unknown protocol ${protocol}: http or mqtt`);
const mqtt = protocol === 'mqtt';
const devices = Number(process.argv[4] ?? (mqtt ? 100 : 200));
const seconds = Number(process.argv[5] ?? 10);
const dir = await mkdtemp(path.join(tmpdir(), 'fleetsim-overhead-'));
const target = mqtt ? await startMosquitto(dir) : await startFixture();
try {
  const pairing = flatOutPairing(mqtt ? 'profiles/lamp-flat-out.yaml' : 'profiles/iot-node-flat-out.yaml', mqtt, devices, seconds, target.url);
  console.log(`${mqtt ? 'lamp-flat-out against Mosquitto' : 'iot-node-flat-out against the standalone fixture'}, ${devices} devices a run for ${seconds} s; ${pinningNote()}.`);
  console.log(await sideBySide(target, dir, rounds, pairing));
} finally {
  target.stop();
  await rm(dir, { recursive: true, force: true });
}
