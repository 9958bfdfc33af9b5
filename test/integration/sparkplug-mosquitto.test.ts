import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import sparkplugPayload from 'sparkplug-payload';
import { startCli } from '../helpers/cli.ts';
import { mosquittoSkip, startMosquitto } from '../helpers/mosquitto.ts';
import type { MosquittoBroker } from '../helpers/mosquitto.ts';
import { pollUntil } from '../helpers/poll.ts';
import { TempDir } from '../helpers/temp-files.ts';
import type { Results } from '../../src/metrics/results.ts';

/**
 * An independent Sparkplug B primary host: Eclipse Tahu's own payload library decodes what the
 * edge nodes send, and nothing of fleetsim's code is used to check it.
 */
const codec = sparkplugPayload.get('spBv1.0');
if (!codec) throw new Error('sparkplug-payload has no spBv1.0 codec');

const skip = mosquittoSkip();
const NODES = 100;
const DEVICES = 5;
const GROUP = 'plant-t';

const DEVICE = `kind: device
name: edge
identity: { scheme: pattern, pattern: "edge-{index:3}" }
mqtt: { keepalive: 30s }
sparkplug:
  group: ${GROUP}
  primaryHost: host-t
  devices: ${DEVICES}
  deviceId: "pump-{{ repeat.index }}"
  nodeMetrics:
    - { name: Properties/Firmware, type: String, value: "1.0" }
  deviceMetrics:
    - { name: Inputs/Temperature, type: Double, value: "{{ walk(20, 80, 0.5, 2) }}" }
    - { name: Outputs/Speed, type: Int32, value: "{{ int(900, 1500) }}" }
tasks:
  - { name: DDATA, every: 500ms, sparkplug: DDATA }
  - { name: NDATA, every: 2s, sparkplug: NDATA }
`;

const toNumber = (value: unknown): number => (typeof value === 'object' && value !== null && 'toNumber' in value ? (value as { toNumber(): number }).toNumber() : Number(value));

interface NodeView {
  births: number;
  /** The seq the next numbered message must carry. */
  nextSeq: number | undefined;
  bdSeq: number | undefined;
  deathBdSeq: number[];
  outOfOrder: number;
  dbirths: number;
  ddata: number;
}

class Host {
  readonly nodes = new Map<string, NodeView>();
  earlyBirths = 0;
  stateSent = false;
  decodeErrors = 0;

  constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
  }

  private view(node: string): NodeView {
    let view = this.nodes.get(node);
    if (!view) this.nodes.set(node, (view = { births: 0, nextSeq: undefined, bdSeq: undefined, deathBdSeq: [], outOfOrder: 0, dbirths: 0, ddata: 0 }));
    return view;
  }

  private onMessage(topic: string, payload: Buffer): void {
    const [namespace, group, type, node] = topic.split('/');
    // The host's own commands come back on its wildcard subscription.
    if (namespace !== 'spBv1.0' || group !== GROUP || node === undefined || type === 'NCMD' || type === 'DCMD') return;
    let decoded;
    try {
      decoded = (codec as NonNullable<typeof codec>).decodePayload(payload);
    } catch {
      this.decodeErrors++;
      return;
    }
    const view = this.view(node);
    const bdSeq = decoded.metrics?.find((metric) => metric.name === 'bdSeq');
    if (type === 'NDEATH') {
      view.deathBdSeq.push(toNumber(bdSeq?.value));
      return;
    }
    const seq = toNumber(decoded.seq);
    if (type === 'NBIRTH') {
      if (!this.stateSent) this.earlyBirths++;
      view.births++;
      view.bdSeq = toNumber(bdSeq?.value);
      if (seq !== 0) view.outOfOrder++;
      view.nextSeq = 1;
      return;
    }
    if (type === 'DBIRTH') view.dbirths++;
    if (type === 'DDATA') view.ddata++;
    if (view.nextSeq === undefined || seq !== view.nextSeq) view.outOfOrder++;
    view.nextSeq = (seq + 1) % 256;
  }

  births(): number {
    return [...this.nodes.values()].reduce((sum, view) => sum + view.births, 0);
  }

  dbirths(): number {
    return [...this.nodes.values()].reduce((sum, view) => sum + view.dbirths, 0);
  }
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

describe('Sparkplug B edge nodes against a real Mosquitto', { skip }, () => {
  test(`${NODES} edge nodes × ${DEVICES} devices: births after STATE, seq continuity, rebirth on NCMD, NDEATH bdSeq after a kill`, { timeout: 120_000 }, async () => {
    broker = await startMosquitto({ nodelay: true });
    const device = await temp.write('edge.yaml', DEVICE);
    const profile = await temp.write('plant.yaml', `kind: profile\nname: plant\nseed: 7\nfleet:\n  - device: ${device}\n    count: ${NODES}\nspawnRate: 1000\nduration: 5m\n`);
    const client = await connectAsync(broker.url, { clientId: 'host-t', clean: true });
    const host = new Host(client);
    await client.subscribeAsync([`spBv1.0/${GROUP}/#`, '$SYS/broker/clients/connected'], { qos: 0 });
    let connected = 0;
    client.on('message', (topic, payload) => {
      if (topic === '$SYS/broker/clients/connected') connected = Number(payload.toString());
    });
    const run = startCli(['run', profile, '--broker', broker.url, '--quiet'], 110_000);
    try {
      // Every node is connected (and has subscribed to the host's STATE) and none may be born yet.
      await pollUntil('all edge nodes connected', () => connected >= NODES + 1, 30_000);
      assert.equal(host.births(), 0, 'an edge node was born before the primary host was online');
      host.stateSent = true;
      await client.publishAsync('spBv1.0/STATE/host-t', JSON.stringify({ online: true, timestamp: Date.now() }), { qos: 1, retain: true });
      await pollUntil('every NBIRTH and DBIRTH', () => host.births() === NODES && host.dbirths() === NODES * DEVICES, 30_000);
      // Data flows: a few DDATA per device, in seq order.
      await pollUntil('DDATA from every node', () => [...host.nodes.values()].every((view) => view.ddata >= 3 * DEVICES), 20_000);
      const firstBdSeq = new Map([...host.nodes].map(([node, view]) => [node, view.bdSeq]));

      // The host asks every node to rebirth; each answers with NBIRTH seq 0 (same bdSeq) and its DBIRTHs.
      const rebirth = Buffer.from(codec.encodePayload({ timestamp: Date.now(), metrics: [{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }] }));
      for (const node of host.nodes.keys()) await client.publishAsync(`spBv1.0/${GROUP}/NCMD/${node}`, rebirth, { qos: 0 });
      await pollUntil('a rebirth from every node', () => host.births() === 2 * NODES && host.dbirths() === 2 * NODES * DEVICES, 30_000);
      for (const [node, view] of host.nodes) assert.equal(view.bdSeq, firstBdSeq.get(node), `${node}: a rebirth on the same session keeps its bdSeq`);
      await pollUntil('data after the rebirth', () => [...host.nodes.values()].every((view) => view.ddata >= 6 * DEVICES), 20_000);

      // Killed: the broker publishes each node's will, NDEATH with the bdSeq of its NBIRTH.
      run.child.kill('SIGKILL');
      await run.done;
      await pollUntil('an NDEATH from every node', () => [...host.nodes.values()].every((view) => view.deathBdSeq.length === 1), 20_000);
      assert.equal(host.decodeErrors, 0);
      assert.equal(host.nodes.size, NODES);
      assert.equal(host.earlyBirths, 0);
      for (const [node, view] of host.nodes) {
        assert.equal(view.outOfOrder, 0, `${node}: seq out of order`);
        assert.equal(view.births, 2, `${node}: births`);
        assert.deepEqual(view.deathBdSeq, [view.bdSeq], `${node}: NDEATH bdSeq matches NBIRTH`);
      }
    } finally {
      run.child.kill('SIGKILL');
      await run.done;
      await client.endAsync();
    }
  });

  test('the results count births, rebirths (host back online), deaths (NDEATH before a clean end) per node', { timeout: 60_000 }, async () => {
    broker ??= await startMosquitto({ nodelay: true });
    const device = await temp.write('edge3.yaml', DEVICE.replace('host-t', 'host-r'));
    const profile = await temp.write('plant3.yaml', `kind: profile\nname: plant3\nseed: 7\nfleet:\n  - device: ${device}\n    count: 3\nspawnRate: 100\nduration: 1m\n`);
    const client = await connectAsync(broker.url, { clientId: 'host-r', clean: true });
    const host = new Host(client);
    await client.subscribeAsync(`spBv1.0/${GROUP}/#`, { qos: 0 });
    host.stateSent = true;
    const state = (online: boolean) => client.publishAsync('spBv1.0/STATE/host-r', JSON.stringify({ online, timestamp: Date.now() }), { qos: 1, retain: true });
    await state(true);
    const json = temp.file('plant3.json');
    const run = startCli(['run', profile, '--broker', broker.url, '--json', json], 50_000);
    try {
      await pollUntil('three births', () => host.births() === 3, 20_000);
      await state(false);
      await state(true);
      await pollUntil('a rebirth of each node when the host is back', () => host.births() === 6, 20_000);
      run.child.kill('SIGINT');
      const result = await run.done;
      assert.equal(result.code, 130, result.stderr);
      await pollUntil('an NDEATH from each node', () => [...host.nodes.values()].every((view) => view.deathBdSeq.length === 1), 10_000);
      const results = JSON.parse(await readFile(json, 'utf8')) as Results;
      const sparkplug = results.sparkplug;
      assert.ok(sparkplug);
      assert.deepEqual(sparkplug.total, { nodes: 3, births: 6, rebirths: 3, rebirthRequests: 0, deaths: 3, outOfOrderSeq: 0 });
      assert.deepEqual(
        sparkplug.nodes.map((node) => node.node),
        ['edge-000', 'edge-001', 'edge-002'],
      );
      for (const node of sparkplug.nodes) assert.equal(node.bdSeq, host.nodes.get(node.node)?.bdSeq);
      assert.match(result.stdout, /Sparkplug: 3 edge nodes, 6 births \(3 rebirths, 0 rebirth requests\), 3 deaths, 0 messages out of seq order\./u);
      assert.ok(results.stats.some((row) => row.name === 'NBIRTH' && row.requests === 6 && row.failures === 0));
      assert.ok(results.stats.some((row) => row.name === 'DBIRTH' && row.requests === 30));
      for (const view of host.nodes.values()) assert.equal(view.outOfOrder, 0);
    } finally {
      run.child.kill('SIGKILL');
      await run.done;
      await client.publishAsync('spBv1.0/STATE/host-r', '', { retain: true });
      await client.endAsync();
    }
  });
});
