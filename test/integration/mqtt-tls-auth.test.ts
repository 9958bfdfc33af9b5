import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { createServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { Server, TLSSocket } from 'node:tls';
import { after, before, test } from 'node:test';
import { Aedes } from 'aedes';
import type { Client } from 'aedes';
import type { Results } from '../../src/metrics/results.ts';
import { ROOT, runCli } from '../helpers/cli.ts';
import { TempDir } from '../helpers/temp-files.ts';

const tlsDir = path.join(ROOT, 'test/fixtures/tls');
const SECRET = 'lamp-secret-8b1f0c';

let temp: TempDir;
let broker: Aedes;
let server: Server;
let url: string;
const logins: { clientId: string; username: string | undefined; password: string | undefined; certificate: string | undefined }[] = [];
let publishes = 0;

before(async () => {
  temp = await TempDir.create();
  broker = await Aedes.createBroker();
  broker.authenticate = (client: Client, username, password, done): void => {
    const socket = (client as unknown as { conn: TLSSocket }).conn;
    const commonName = socket.getPeerCertificate().subject?.CN;
    logins.push({ clientId: client.id, username, password: password?.toString(), certificate: Array.isArray(commonName) ? commonName.join(',') : commonName });
    done(null, password?.toString() === SECRET);
  };
  broker.on('publish', (_packet, client) => {
    if (client) publishes++;
  });
  const pem = async (name: string): Promise<Buffer> => readFile(path.join(tlsDir, name));
  server = createServer({ key: await pem('server.key'), cert: await pem('server.crt'), ca: await pem('ca.crt'), requestCert: true, rejectUnauthorized: true }, (socket) => broker.handle(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `mqtts://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((resolve) => broker.close(() => resolve()));
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await temp.remove();
});

test('mqtts with a private CA, a client certificate per device (templated paths) and a password from the environment that never reaches the logs', { timeout: 60_000 }, async () => {
  // Each device finds its own certificate by its id, as a fleet provisioned one per device would.
  await mkdir(temp.file('certs'));
  for (const id of ['1e0000000000', '1e0000000001', '1e0000000002']) {
    await copyFile(path.join(tlsDir, 'client.crt'), temp.file(`certs/${id}.crt`));
    await copyFile(path.join(tlsDir, 'client.key'), temp.file(`certs/${id}.key`));
  }
  await copyFile(path.join(tlsDir, 'ca.crt'), temp.file('ca.crt'));
  await temp.write(
    'secure-lamp.yaml',
    `kind: device
name: secure-lamp
identity: { scheme: sequential-hex, base: "0x1e0000000000", width: 12 }
mqtt:
  username: "lamp-{{ device.id }}"
  password: "{{ env.LAMP_PASSWORD }}"
tasks:
  - name: changed
    publish:
      topic: devices/{{ device.id }}/lamp/changed
      qos: 1
      payload: "{{ float(0, 1) }}"
`,
  );
  const profile = await temp.write(
    'secure.yaml',
    `kind: profile
seed: 3
broker: ${url}
fleet:
  - device: secure-lamp.yaml
    count: 3
mqtt:
  tls:
    ca: ca.crt
    cert: "certs/{{ device.id }}.crt"
    key: "certs/{{ device.id }}.key"
`,
  );
  const json = temp.file('secure.json');
  const log = temp.file('secure.ndjson');
  process.env.LAMP_PASSWORD = SECRET;
  try {
    const result = await runCli(['run', profile, '--iterations', '4', '--json', json, '--log-requests', log], 40_000);
    assert.equal(result.code, 0, result.stderr);
    const results = JSON.parse(await readFile(json, 'utf8')) as Results;
    assert.equal(results.total.failures, 0, JSON.stringify(results.failures));
    assert.equal(results.stats.find((stat) => stat.type === 'PUBLISH')?.requests, 12);
    assert.equal(publishes, 12);
    assert.deepEqual(
      logins.map((login) => [login.clientId, login.username, login.password, login.certificate]).sort(),
      ['1e0000000000', '1e0000000001', '1e0000000002'].map((id) => [id, `lamp-${id}`, SECRET, 'device-client']),
    );
    for (const text of [await readFile(log, 'utf8'), await readFile(json, 'utf8'), result.stdout, result.stderr]) assert.ok(!text.includes(SECRET));
  } finally {
    delete process.env.LAMP_PASSWORD;
  }
});

/** Runs `count` secure lamps for 1.5 s with certificates from `certDir`; returns the results. */
async function runSecureLamps(name: string, certDir: string, count: number): Promise<Results> {
  const profile = await temp.write(
    `${name}.yaml`,
    `kind: profile
seed: 3
broker: ${url}
fleet:
  - device: secure-lamp.yaml
    count: ${count}
mqtt:
  tls:
    ca: ca.crt
    cert: "${certDir}/{{ device.id }}.crt"
    key: "${certDir}/{{ device.id }}.key"
`,
  );
  const json = temp.file(`${name}.json`);
  process.env.LAMP_PASSWORD = SECRET;
  try {
    const result = await runCli(['run', profile, '-t', '1500ms', '--json', json, '--quiet'], 40_000);
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(await readFile(json, 'utf8')) as Results;
  } finally {
    delete process.env.LAMP_PASSWORD;
  }
}

test('a device whose certificate file is missing fails its CONNECT with the reason; the others run', { timeout: 60_000 }, async () => {
  const results = await runSecureLamps('missing-cert', 'certs', 4);
  const connectFailures = results.failures.filter((failure) => failure.type === 'CONNECT');
  assert.deepEqual(
    connectFailures.map((failure) => failure.error),
    ['cannot read 1e0000000003.crt: no such file or directory (ENOENT)'],
  );
  assert.ok(results.stats.some((stat) => stat.type === 'PUBLISH' && stat.requests > 0 && stat.failures === 0));
});

test('a device whose key does not match its certificate fails its CONNECT with the reason; the run goes on', { timeout: 60_000 }, async () => {
  await mkdir(temp.file('mismatch'));
  for (const id of ['1e0000000000', '1e0000000001']) {
    await copyFile(path.join(tlsDir, 'client.crt'), temp.file(`mismatch/${id}.crt`));
    // The second device has the server's key beside the client's certificate.
    await copyFile(path.join(tlsDir, id.endsWith('1') ? 'server.key' : 'client.key'), temp.file(`mismatch/${id}.key`));
  }
  const results = await runSecureLamps('mismatch', 'mismatch', 2);
  const connectFailures = results.failures.filter((failure) => failure.type === 'CONNECT');
  assert.equal(connectFailures.length, 1);
  assert.match(connectFailures[0]?.error ?? '', /KEY_VALUES_MISMATCH|key values mismatch/i);
  assert.ok(results.stats.some((stat) => stat.type === 'PUBLISH' && stat.requests > 0 && stat.failures === 0));
});
