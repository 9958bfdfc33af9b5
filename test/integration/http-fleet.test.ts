import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { HttpFixture } from '../../broker-fixture/index.ts';
import type { Results } from '../../src/metrics/results.ts';
import { ROOT, runCli } from '../helpers/cli.ts';
import { HTTP_CLIENTS } from '../helpers/http-clients.ts';
import { TempDir } from '../helpers/temp-files.ts';

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

/** profiles/iot-node.yaml on the given HTTP client (`http.client`, set in a copy). */
async function iotNodeProfile(client: string): Promise<string> {
  const text = await readFile(path.join(ROOT, 'profiles/iot-node.yaml'), 'utf8');
  const device = path.join(ROOT, 'devices/iot-node.yaml');
  const copy = text.replace('../devices/iot-node.yaml', device).replace('http:\n', `http:\n  client: ${client}\n`);
  assert.match(copy, new RegExp(`http:\\n  client: ${client}\\n`));
  return temp.write(`iot-node-${client}.yaml`, copy);
}

for (const client of HTTP_CLIENTS)
  test(`200 iot-node devices for 20 s: greet once each, 10:1:1 task mix, devices/5 tasks per second, counts equal the server (http.client: ${client})`, { timeout: 90_000 }, async () => {
    const server = new HttpFixture();
    const url = await server.listen(0);
    try {
      const json = temp.file(`fleet-${client}.json`);
      const log = temp.file(`fleet-${client}.ndjson`);
      const result = await runCli(['run', await iotNodeProfile(client), '-u', '200', '-r', '100', '-t', '20s', '--target', url, '--json', json, '--log-requests', log, '--quiet'], 60_000);
      assert.equal(result.code, 0, result.stderr);
      const results = JSON.parse(await readFile(json, 'utf8')) as Results;
      const byName = new Map(results.stats.map((row) => [`${row.type} ${row.name}`, row]));
      const requests = (key: string): number => byName.get(key)?.requests ?? 0;

      assert.equal(results.total.failures, 0);
      assert.equal(requests('GET /greet'), 200);
      assert.equal(results.devices.started, 200);

      // Every route: the simulator's count equals the server's own, exactly.
      for (const [route, count] of Object.entries(server.counts)) assert.equal(requests(route), count.requests, `${route} differs from the server`);
      for (const row of results.stats) assert.equal(server.counts[`${row.type} ${row.name}`]?.requests, row.requests);
      assert.equal(server.counts.other, undefined);
      for (const count of Object.values(server.counts)) assert.equal(count.invalid, 0, 'the server rejected a body');

      const data = requests('POST /data');
      const health = requests('POST /health');
      const ota = requests('GET /ota');
      assert.ok(data / health > 7 && data / health < 14, `data:health = ${data}:${health}`);
      assert.ok(data / ota > 7 && data / ota < 14, `data:ota = ${data}:${ota}`);

      // All 200 spawn within 2 s and pace at 5 s, so each runs exactly 4 tasks in 20 s: 40 tasks/s.
      const taskRate = (data + health + ota) / 20;
      assert.ok(Math.abs(taskRate - 40) <= 2, `task rate ${taskRate}/s, expected 40/s`);

      const lines = (await readFile(log, 'utf8')).trim().split('\n');
      assert.equal(lines.length, results.total.requests);
      const ids = new Set(lines.map((line) => (JSON.parse(line) as { device: string }).device));
      assert.equal(ids.size, 200);
    } finally {
      await server.close();
    }
  });
