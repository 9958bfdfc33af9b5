import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { copyFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadRunPlan } from '../../src/profile/load.ts';
import { ROOT, startCli } from '../helpers/cli.ts';
import { TempDir } from '../helpers/temp-files.ts';

let temp: TempDir;
const DEVICES = 3;
const ITERATIONS = 400;
const JWT_SECRET = 'fleet-wide-hs256-secret';
const SAS_KEY = Buffer.from('iot hub device key, 32 bytes....').toString('base64');

// The shipped vehicle's payload, published without a pause, plus credentials that must stay out of the log.
const DEVICE = `kind: device
name: van
identity: { scheme: data, column: id }
mqtt:
  version: "3.1.1"
  username: "{{ concat('hub.example.net/', device.id, '/?api-version=2021-04-12') }}"
  password: "{{ azureSas(concat('hub.example.net/devices/', device.id), data.sas_key, '1h') }}"
tasks:
  - name: telemetry
    publish:
      topic: fleet/{{ device.id }}/telemetry
      qos: 1
      json:
        lat: "{{ route('vehicle-routes.geojson', 30, '5s') }}"
        lon: "{{ route('vehicle-routes.geojson', 30, '5s', 'lon') }}"
        door: "{{ states('5s', 'closed', '8m', 'open', '1m') }}"
        air_c: "{{ channel('air', cycle(14, 6, '24h', '15h', '5s', 0.3, 1)) }}"
        coolant_c: "{{ anomaly('coolant', correlated('air', 82, 0.4, 0.5, 1), 0.02, 15) }}"
        es256: "{{ jwt('ES256', data.key, device.id, 'broker.example.net') }}"
        hs256: "{{ jwt('HS256', env.FLEET_JWT_SECRET, device.id) }}"
wait: { model: constant, time: 0s }
`;

before(async () => {
  temp = await TempDir.create();
  await copyFile(path.join(ROOT, 'devices/vehicle-routes.geojson'), temp.file('vehicle-routes.geojson'));
  const rows = Array.from({ length: DEVICES }, (_, i) => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return JSON.stringify({ id: `van-${i}`, key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, sas_key: SAS_KEY });
  });
  await temp.write('vans.ndjson', `${rows.join('\n')}\n`);
  await temp.write('van.yaml', DEVICE);
  await temp.write(
    'fleet.yaml',
    `kind: profile\nname: vans\nseed: 21\nfleet:\n  - device: van.yaml\n    count: ${DEVICES}\n    data: { file: vans.ndjson, secret: [key, sas_key] }\nspawnRate: 100\nduration: 60s\n`,
  );
});
after(async () => {
  await temp.remove();
});

interface Label {
  readonly channel: string;
  readonly kind: string;
  readonly value: number | null;
  readonly clean: number;
}
interface LogLine {
  readonly device: string;
  readonly seq: number;
  readonly type: string;
  readonly target: string;
  readonly body: string | null;
  readonly anomalies?: Label[];
}

async function run(label: string): Promise<{ lines: LogLine[]; text: string }> {
  const log = temp.file(`${label}.ndjson`);
  const result = await startCli(['run', temp.file('fleet.yaml'), '--iterations', String(ITERATIONS), '--log-requests', log, '--quiet'], 60_000, undefined, undefined, { FLEET_JWT_SECRET: JWT_SECRET })
    .done;
  assert.equal(result.code, 0, result.stderr);
  const text = await readFile(log, 'utf8');
  return {
    lines: text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as LogLine),
    text: `${text}${result.stdout}${result.stderr}`,
  };
}

test('telemetry is the same every run, anomaly labels match what was sent, derived credentials never appear', { timeout: 120_000 }, async () => {
  const first = await run('first');
  const publishes = first.lines.filter((line) => line.type === 'PUBLISH');
  assert.equal(publishes.length, DEVICES * ITERATIONS);
  let labelled = 0;
  for (const line of publishes) {
    const body = JSON.parse(line.body as string) as Record<string, unknown>;
    // The tokens went out; the log shows the calls that made them.
    assert.equal(body.es256, "{{ jwt('ES256', data.key, device.id, 'broker.example.net') }}");
    assert.equal(body.hs256, "{{ jwt('HS256', env.FLEET_JWT_SECRET, device.id) }}");
    const labels = line.anomalies ?? [];
    if (labels.length === 0) {
      assert.equal(typeof body.coolant_c, 'number', `${line.device} seq ${line.seq}: no label, so a clean reading`);
      continue;
    }
    labelled++;
    assert.equal(labels.length, 1);
    const [anomaly] = labels as [Label];
    assert.equal(anomaly.channel, 'coolant');
    assert.deepEqual(anomaly.value, body.coolant_c, `${line.device} seq ${line.seq}: the label holds the value sent`);
  }
  // At 2% a sample, anomalies lasting up to 15 samples: some, but far from all, messages carry one.
  assert.ok(labelled > 20 && labelled < publishes.length / 2, `${labelled} labelled messages`);
  assert.ok(!/eyJ[A-Za-z0-9_-]{10,}/.test(first.text), 'no JWT in the log or output');
  assert.ok(!first.text.includes('SharedAccessSignature'), 'no SAS token in the log or output');
  assert.ok(!first.text.includes('BEGIN PRIVATE KEY') && !first.text.includes(JWT_SECRET));

  const second = await run('second');
  const key = (line: LogLine): string => JSON.stringify([line.device, line.seq, line.type, line.target, line.body, line.anomalies ?? null]);
  assert.deepEqual(new Set(second.lines.map(key)), new Set(first.lines.map(key)));
});

test('the shipped vehicle fleet loads with its routes', async () => {
  const plan = await loadRunPlan(path.join(ROOT, 'profiles/vehicle-fleet.yaml'));
  assert.equal(plan.fleet[0]?.model.name, 'vehicle');
  assert.equal(plan.fleet[0]?.count, 200);
});

test('a JWT key in a data row that is not a usable key stops the load, naming the row', async () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const good = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  await temp.write('keys.ndjson', `${JSON.stringify({ id: 'k-0', key: good })}\n${JSON.stringify({ id: 'k-1', key: 'keys/k-1.pem' })}\n`);
  await temp.write(
    'signer.yaml',
    'kind: device\nname: signer\nidentity: { scheme: data, column: id }\ntasks:\n  - name: t\n    http: { method: POST, path: /t, json: { token: "{{ jwt(\'ES256\', data.key) }}" } }\n',
  );
  await temp.write('signers.yaml', 'kind: profile\nname: signers\nseed: 1\nfleet:\n  - device: signer.yaml\n    count: 2\n    data: { file: keys.ndjson, secret: [key] }\nduration: 1s\n');
  await assert.rejects(loadRunPlan(temp.file('signers.yaml')), /keys\.ndjson: row 1, column 'key': ES256 needs a P-256 EC private key, got rsa/);
  await temp.write(
    'signer.yaml',
    'kind: device\nname: signer\nidentity: { scheme: data, column: id }\ntasks:\n  - name: t\n    http: { method: POST, path: /t, json: { token: "{{ jwt(\'RS256\', data.key) }}" } }\n',
  );
  await assert.rejects(loadRunPlan(temp.file('signers.yaml')), /keys\.ndjson: row 2, column 'key': cannot read the RS256 key keys\/k-1\.pem: ENOENT/);
});
