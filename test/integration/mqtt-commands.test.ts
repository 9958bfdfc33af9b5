import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connectAsync } from 'mqtt';
import type { IPublishPacket, MqttClient } from 'mqtt';
import { startFixtures } from '../../broker-fixture/index.ts';
import { ROOT, runCli } from '../helpers/cli.ts';
import { mosquittoSkip, startMosquitto } from '../helpers/mosquitto.ts';
import type { MosquittoBroker } from '../helpers/mosquitto.ts';
import { pollUntil } from '../helpers/poll.ts';
import { TempDir } from '../helpers/temp-files.ts';
import type { Results } from '../../src/metrics/results.ts';

const LAMPS = 1000;

/** A backend that commands every lamp in one burst, every 2 s. */
function backend(version: '5' | '3.1.1'): string {
  const correlation = version === '5' ? '      replyTopic: backend/{{ device.id }}/replies\n' : '      replyTopic: devices/+/cmd/reply\n      correlate: $.id\n';
  return `kind: device
name: command-backend
identity: { scheme: pattern, pattern: "backend-{index:2}" }
mqtt: { version: "${version}" }
tasks:
  - name: set-brightness
    every: 2s
    repeat: ${LAMPS}
    command:
      to: commanded-lamp
      topic: devices/{{ target.id }}/cmd
      qos: 1
      timeout: 10s
${correlation}      json: { id: "{{ device.id }}-{{ seq }}", op: set, brightness: "{{ float(0, 1, 2) }}" }
`;
}

/** An independent mqtt.js client counting the commands and the replies the broker carries. */
class Observer {
  commands = 0;
  replies = 0;
  readonly targets = new Set<string>();
  /** MQTT 5: every command's Correlation Data, and the replies that echoed one of them. */
  readonly correlations = new Set<string>();
  echoed = 0;
  wrongResponseTopic = 0;

  constructor(
    readonly client: MqttClient,
    private readonly version5: boolean,
  ) {
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet));
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const parts = topic.split('/');
    if (parts[0] === 'devices' && parts[2] === 'cmd' && parts.length === 3) {
      this.commands++;
      this.targets.add(parts[1] ?? '');
      if (this.version5) {
        this.correlations.add(packet.properties?.correlationData?.toString('utf8') ?? '');
        if (!/^backend\/backend-\d+\/replies$/u.test(packet.properties?.responseTopic ?? '')) this.wrongResponseTopic++;
      }
      return;
    }
    if ((parts[0] === 'backend' && parts[2] === 'replies') || (parts[0] === 'devices' && parts[3] === 'reply')) {
      this.replies++;
      const data = packet.properties?.correlationData?.toString('utf8');
      if (data !== undefined && this.correlations.has(data)) this.echoed++;
      // The 3.1.1 lamp echoes the command's id in its JSON.
      if (!this.version5 && typeof (JSON.parse(payload.toString()) as { id?: unknown }).id === 'string') this.echoed++;
    }
  }
}

async function runCommands(temp: TempDir, brokerUrl: string, version: '5' | '3.1.1'): Promise<{ results: Results; observer: Observer }> {
  const lamp = path.join(ROOT, version === '5' ? 'devices/commanded-lamp.yaml' : 'devices/commanded-lamp-v311.yaml');
  const device = await temp.write(`backend-${version}.yaml`, backend(version));
  const profile = await temp.write(
    `commands-${version}.yaml`,
    `kind: profile\nname: commands\nseed: 5\nfleet:\n  - device: ${lamp}\n    count: ${LAMPS}\n  - device: ${device}\n    count: 1\nspawnRate: 4000\nduration: 5s\n`,
  );
  const client = await connectAsync(brokerUrl, { protocolVersion: version === '5' ? 5 : 4, clean: true, reconnectPeriod: 0 });
  const observer = new Observer(client, version === '5');
  await client.subscribeAsync(['devices/+/cmd', 'devices/+/cmd/reply', 'backend/+/replies'], { qos: 1 });
  try {
    const json = temp.file(`commands-${version}.json`);
    // Counts are under test, not the verdict: 1,000 lamps beside their broker on a 2-core machine may wait for a CPU.
    const result = await runCli(['run', profile, '--broker', brokerUrl, '--json', json, '--quiet', '--min-delivered', 'off'], 90_000);
    assert.ok(result.code === 0 || result.code === 99, `exit ${String(result.code)}: ${result.stderr}`);
    const results = JSON.parse(await readFile(json, 'utf8')) as Results;
    const total = results.commands?.total;
    assert.ok(total, 'the results have a commands section');
    // What the broker carried reaches the observer on its own connection: wait for it, then compare.
    await pollUntil('the observer saw every command and reply', () => observer.commands >= total.commands - total.failed && observer.replies >= total.replied + total.late, 10_000);
    return { results, observer };
  } finally {
    await client.endAsync();
  }
}

function checkCounts(results: Results, observer: Observer): void {
  const commands = results.commands;
  assert.ok(commands);
  const total = commands.total;
  const row = results.stats.find((candidate) => candidate.type === 'COMMAND' && candidate.name === 'set-brightness');
  assert.ok(row, 'a COMMAND row');
  // One burst per 2 s reaches every lamp: at least one whole burst, all of them commanded.
  assert.ok(total.commands >= LAMPS, `${total.commands} commands`);
  assert.equal(observer.targets.size, LAMPS, 'every lamp was commanded');
  // fleetsim's counts are the broker's, as an independent client saw them.
  assert.equal(observer.commands, total.commands - total.failed, 'commands published');
  assert.equal(observer.replies, total.replied + total.late, 'replies');
  assert.equal(observer.echoed, observer.replies, 'every reply carries its command correlation');
  assert.equal(commands.unmatchedReplies, 0);
  // The row and the section agree: every command ended once, a timeout is late or lost.
  assert.equal(row.requests, total.commands);
  assert.equal(row.failures, total.commands - total.replied);
  assert.equal(row.timeouts, total.timeouts);
  assert.equal(total.timeouts, total.late + total.lost);
  assert.ok(total.replied > 0 && row.latencyMs.p50 !== null, 'round trips measured');
  assert.equal(results.bareThresholdsRead, 'COMMAND+PUBLISH Aggregated', 'COMMAND rows are traffic, not session setup');
  // A backend task that sends commands offers commands.
  assert.ok(row.offered !== undefined && row.offered > 0, 'the COMMAND row carries offered load');
}

let temp: TempDir;
let broker: MosquittoBroker | undefined;
before(async () => {
  temp = await TempDir.create();
});
after(async () => {
  await broker?.stop();
  await temp.remove();
});

describe('commands with replies', () => {
  test(`MQTT 5 against Mosquitto: ${LAMPS} lamps answer on the Response Topic with the Correlation Data`, { skip: mosquittoSkip(), timeout: 120_000 }, async () => {
    broker = await startMosquitto({ nodelay: true });
    const { results, observer } = await runCommands(temp, broker.url, '5');
    checkCounts(results, observer);
    assert.equal(observer.wrongResponseTopic, 0, "each command's Response Topic is the backend's reply topic");
    assert.equal(observer.correlations.size, observer.commands, 'every command has its own Correlation Data');
  });

  test(`MQTT 3.1.1 against the embedded Aedes broker: a topic pair and an id in the JSON, ${LAMPS} lamps`, { timeout: 120_000 }, async () => {
    const fixtures = await startFixtures();
    try {
      const { results, observer } = await runCommands(temp, fixtures.brokerUrl, '3.1.1');
      checkCounts(results, observer);
    } finally {
      await fixtures.close();
    }
  });
});
