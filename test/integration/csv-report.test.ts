import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import type { Results } from '../../src/metrics/results.ts';
import { EXCEPTIONS_HEADER, FAILURES_HEADER, HISTORY_HEADER, HISTORY_LOAD_HEADER, STATS_HEADER } from '../../src/report/csv-report.ts';
import { runCli } from '../helpers/cli.ts';
import { TempDir } from '../helpers/temp-files.ts';

// A route the embedded fixture does not serve answers 404: failures without injecting randomness.
const DEVICE = `kind: device
name: csv-probe
tasks:
  - name: /data
    weight: 4
    http:
      method: POST
      path: /data
      json:
        temperature: "{{ int(1, 40) }}"
        humidity: "{{ int(1, 99) }}"
  - name: /missing
    weight: 1
    http: { method: GET, path: /missing }
wait:
  model: pacing
  interval: 100ms
`;

const PROFILE = `kind: profile
name: csv-probe
seed: 7
fleet:
  - device: csv-probe.device.yaml
    count: 10
spawnRate: 10
duration: 60s
`;

let temp: TempDir;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await temp.remove();
});

const firstLine = (text: string): string => text.slice(0, text.indexOf('\r\n'));

test('--csv writes Locust-shaped stats, history and failures whose numbers match the JSON of the same run', { timeout: 40_000 }, async () => {
  await temp.write('csv-probe.device.yaml', DEVICE);
  const profile = await temp.write('csv-probe.yaml', PROFILE);
  const prefix = temp.file('run');
  const json = temp.file('run.json');
  const result = await runCli(['run', profile, '--duration', '12s', '--csv', prefix, '--json', json, '--quiet'], 35_000);
  assert.equal(result.code, 0, result.stderr);
  const results = JSON.parse(await readFile(json, 'utf8')) as Results;
  const texts = await Promise.all(['stats', 'stats_history', 'failures', 'exceptions'].map((name) => readFile(`${prefix}_${name}.csv`, 'utf8')));
  const [statsText, historyText, failuresText, exceptionsText] = texts as [string, string, string, string];

  assert.equal(firstLine(statsText), STATS_HEADER.join(','));
  assert.equal(
    firstLine(statsText),
    'Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%',
  );
  // Locust's columns in Locust's order, then fleetsim's load columns after them.
  assert.equal(firstLine(historyText), [...HISTORY_HEADER, ...HISTORY_LOAD_HEADER].join(','));
  assert.ok(
    firstLine(historyText).startsWith(
      'Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,Total Min Response Time,Total Max Response Time,Total Average Content Size,',
    ),
  );
  assert.equal(firstLine(failuresText), FAILURES_HEADER.join(','));
  assert.equal(firstLine(failuresText), 'Method,Name,Error,Occurrences');
  // Locust 2.x's fourth file: its own errors; fleetsim's end the run instead, so only the header.
  assert.equal(firstLine(exceptionsText), EXCEPTIONS_HEADER.join(','));
  assert.equal(exceptionsText, 'Count,Message,Traceback,Nodes\r\n');
  assert.match(statsText, /\r\nPOST,\/data,/);

  // Stats: every JSON row and the total, with the same counts and medians.
  const stats = parse<Record<(typeof STATS_HEADER)[number], string>>(statsText, { columns: true });
  const expectedRows = [...results.stats, { ...results.total, type: '' }];
  assert.deepEqual(
    stats.map((row) => [row.Type, row.Name]),
    expectedRows.map((row) => [row.type, row.name]),
  );
  for (const [i, row] of expectedRows.entries()) {
    const line = stats[i];
    assert.ok(line);
    assert.equal(Number(line['Request Count']), row.requests, `${row.name} requests`);
    assert.equal(Number(line['Failure Count']), row.failures, `${row.name} failures`);
    assert.equal(Number(line['Median Response Time']), row.latencyMs.p50, `${row.name} median`);
    assert.equal(Number(line['99%']), row.latencyMs.p99, `${row.name} p99`);
    assert.equal(Number(line['Requests/s']), row.rps);
  }
  const data = results.stats.find((row) => row.type === 'POST' && row.name === '/data');
  const missing = results.stats.find((row) => row.name === '/missing');
  assert.ok(data && data.requests > 300, `POST /data ran ${data?.requests} times`);
  assert.ok(missing && missing.failures === missing.requests && missing.failures > 50, 'every /missing attempt failed');

  // History: one interval a second, each with a line per stat and one Aggregated line.
  const history = parse<Record<(typeof HISTORY_HEADER)[number], string>>(historyText, { columns: true });
  assert.ok(results.history.length >= 12 && results.history.length <= 14, `${results.history.length} intervals in 12 s`);
  const perInterval = results.stats.length + 1;
  assert.equal(history.length, results.history.length * perInterval);
  for (const [i, point] of results.history.entries()) {
    const lines = history.slice(i * perInterval, (i + 1) * perInterval);
    assert.deepEqual(
      lines.map((line) => line.Name),
      [...point.rows.map((row) => row.name), 'Aggregated'],
    );
    // Every interval its own second: the stop's short last interval is stamped a second after the one before.
    const second = Math.floor(point.timestamp / 1000);
    const stamped = Number(lines[0]?.Timestamp);
    assert.ok(stamped === second || (i === results.history.length - 1 && stamped === second + 1), `interval ${i}: ${stamped} for ${second}`);
    assert.ok(lines.every((line) => line.Timestamp === String(stamped) && line['User Count'] === String(point.devicesOnline)));
    const aggregated = lines.at(-1);
    assert.ok(aggregated);
    assert.equal(aggregated.Type, '');
    assert.equal(Number(aggregated['Requests/s']), point.total.rps);
    assert.equal(aggregated['50%'], point.total.latencyMs.p50 === null ? 'null' : String(point.total.latencyMs.p50));
    assert.equal(Number(aggregated['Total Request Count']), point.total.cumulative.requests);
  }
  const full = results.history.filter((point) => point.intervalS >= 0.9);
  assert.ok(full.length >= 11, 'intervals are a second apart');
  const lastTotal = history.at(-1);
  assert.equal(Number(lastTotal?.['Total Request Count']), results.total.requests);
  assert.equal(Number(lastTotal?.['Total Failure Count']), results.total.failures);
  const seconds = history.filter((line) => line.Name === 'Aggregated').map((line) => Number(line.Timestamp));
  assert.equal(new Set(seconds).size, seconds.length, `every interval has its own Timestamp: ${seconds.join(', ')}`);
  const span = (seconds.at(-1) ?? 0) - (seconds[0] ?? 0);
  assert.ok(span >= 10 && span <= 14, `history spans ${span} s`);

  // Failures: the JSON's, in its order.
  const failures = parse<Record<(typeof FAILURES_HEADER)[number], string>>(failuresText, { columns: true });
  assert.deepEqual(
    failures.map((line) => [line.Method, line.Name, line.Error, Number(line.Occurrences)]),
    results.failures.map((failure) => [failure.type, failure.name, failure.error, failure.count]),
  );
  assert.ok(failures.some((line) => line.Method === 'GET' && line.Name === '/missing'));
});

test('--csv into a missing directory is a usage error before the run starts', { timeout: 20_000 }, async () => {
  const result = await runCli(['run', 'profiles/iot-node.yaml', '--duration', '10m', '--csv', temp.file('missing-dir/run'), '--quiet'], 15_000);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /--csv: cannot write .*missing-dir\/run_stats\.csv: directory .*missing-dir does not exist or is not writable/);
  assert.doesNotMatch(result.stderr, /Running|embedded/);
});
