import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { describePlan } from '../../src/cli/validate-command.ts';
import { Engine } from '../../src/engine/engine.ts';
import type { AttemptRecord } from '../../src/engine/events.ts';
import { loadRunPlan } from '../../src/profile/load.ts';
import { ROOT } from '../helpers/cli.ts';
import { makeDeviceCerts, TEST_CA } from '../helpers/device-certs.ts';
import { TempDir } from '../helpers/temp-files.ts';

const DEVICES = ['dev-0', 'dev-1', 'dev-2'];
const tlsFile = (name: string): Buffer => readFileSync(path.join(ROOT, 'test/fixtures/tls', name));

let temp: TempDir;
let server: Server;
let url: string;
/** Per request: the id the device sent and the subject of the certificate it presented. */
const seen: { id: string; subject: string }[] = [];
let connections = 0;

before(async () => {
  temp = await TempDir.create();
  await mkdir(temp.file('certs'));
  await makeDeviceCerts(temp.file('certs'), DEVICES);
  server = createServer({ key: tlsFile('server.key'), cert: tlsFile('server.crt'), ca: tlsFile('ca.crt'), requestCert: true, rejectUnauthorized: true }, (request, response) => {
    const subject = (request.socket as TLSSocket).getPeerCertificate().subject.CN;
    seen.push({ id: new URL(request.url ?? '/', 'https://x').searchParams.get('id') ?? '', subject: Array.isArray(subject) ? subject.join(',') : (subject ?? '') });
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  server.on('secureConnection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await temp.write(
    'probe.yaml',
    'kind: device\nname: probe\nidentity: { scheme: pattern, pattern: "dev-{index}" }\ntasks:\n  - http: { path: "/hello?id={{ device.id }}" }\nwait: { model: constant, time: 5ms }\n',
  );
  await temp.write(
    'by-row.yaml',
    'kind: device\nname: by-row\nidentity: { scheme: data, column: device_id }\ntasks:\n  - http: { path: "/hello?id={{ device.id }}" }\nwait: { model: constant, time: 5ms }\n',
  );
  await temp.write('fleet.csv', `device_id,cert,key\n${DEVICES.map((id) => `${id},certs/${id}.crt,certs/${id}.key`).join('\n')}\nghost,certs/ghost.crt,certs/ghost.key\n`);
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await temp.remove();
});

const failuresOf = (engine: Engine): number => engine.stats.entries.reduce((sum, entry) => sum + entry.failures, 0);

async function run(name: string, profileText: string): Promise<{ engine: Engine; log: AttemptRecord[]; connections: number; validate: string }> {
  seen.length = 0;
  connections = 0;
  const profile = await temp.write(name, profileText);
  const plan = await loadRunPlan(profile, { target: url });
  const engine = new Engine({ plan, target: url });
  const log: AttemptRecord[] = [];
  engine.on('attempt', (record) => log.push(record));
  await engine.run();
  return { engine, log, connections, validate: describePlan(plan) };
}

for (const connectionPerDevice of [false, true]) {
  test(
    `each device presents its own certificate (templated paths${connectionPerDevice ? ', a connection per device' : ', a pool per certificate'}), over one connection each`,
    { timeout: 60_000 },
    async () => {
      const tls = `http:\n  connectionPerDevice: ${connectionPerDevice}\n  tls:\n    ca: ${TEST_CA}\n    cert: "certs/{{ device.id }}.crt"\n    key: "certs/{{ device.id }}.key"\n`;
      const result = await run(`templated-${connectionPerDevice}.yaml`, `fleet:\n  - device: probe.yaml\n    count: 3\nspawnRate: 100\niterations: 4\nseed: 1\n${tls}`);
      assert.equal(failuresOf(result.engine), 0, JSON.stringify([...result.engine.stats.entries.flatMap((entry) => [...entry.errors])]));
      assert.equal(seen.length, 12);
      for (const request of seen) assert.equal(request.subject, request.id, "the server saw the device's own certificate");
      assert.deepEqual([...new Set(seen.map((request) => request.subject))].sort(), DEVICES);
      assert.equal(result.connections, 3, 'one TLS connection per certificate, never one per request');
      assert.match(
        result.validate,
        connectionPerDevice
          ? /HTTP: one keep-alive connection per device, each presenting its own client certificate/
          : /HTTP: one pool \(up to 100 connections\) per distinct client certificate \(certs\/\{\{ device\.id \}\}\.crt\)/,
      );
    },
  );
}

test('certificate paths from a data file; a device whose files are missing fails with the reason, the others run', { timeout: 60_000 }, async () => {
  const tls = `http:\n  tls:\n    ca: ${TEST_CA}\n    cert: "{{ data.cert }}"\n    key: "{{ data.key }}"\n`;
  const result = await run('by-row-profile.yaml', `fleet:\n  - device: by-row.yaml\n    count: 4\n    data: { file: fleet.csv }\nspawnRate: 100\niterations: 2\nseed: 1\n${tls}`);
  for (const request of seen) assert.equal(request.subject, request.id);
  assert.deepEqual([...new Set(seen.map((request) => request.subject))].sort(), DEVICES);
  const ghost = result.log.filter((record) => record.device === 'ghost');
  assert.equal(ghost.length, 2);
  for (const record of ghost) assert.match(record.error ?? '', /^cannot read ghost\.crt: /);
  assert.equal(failuresOf(result.engine), 2);
});

test('a certificate path reading a column the data file lacks is refused at the tls field', { timeout: 30_000 }, async () => {
  const profile = await temp.write(
    'bad-column.yaml',
    `fleet:\n  - device: by-row.yaml\n    count: 3\n    data: { file: fleet.csv }\niterations: 1\nhttp:\n  tls:\n    cert: "{{ data.certificate }}"\n    key: "{{ data.key }}"\n`,
  );
  await assert.rejects(
    loadRunPlan(profile, { target: url }),
    /bad-column\.yaml:8:\d+: http\.tls\.cert: reads \{\{ data\.certificate \}\} but .*fleet\.csv \(fleet entry 1\) has no such column \(its columns: device_id, cert, key\)/,
  );
  const noData = await temp.write('no-data.yaml', `fleet:\n  - device: probe.yaml\n    count: 3\niterations: 1\nhttp:\n  tls:\n    cert: "{{ data.cert }}"\n    key: "certs/{{ device.id }}.key"\n`);
  await assert.rejects(loadRunPlan(noData, { target: url }), /no-data\.yaml:7:\d+: http\.tls\.cert: reads \{\{ data\.cert \}\} but fleet entry 1 \(probe\) names no data file/);
});
