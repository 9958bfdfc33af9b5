import { connect } from 'mqtt';
import type { MqttClient } from 'mqtt';
import { percentile } from './percentile.ts';

/**
 * The peer of bench:connect: plain mqtt.js clients connected at an offered rate (`count` clients,
 * `rate` per second, started on a 10 ms schedule), each held idle (keepalive 60 s) until all are
 * online. Prints one JSON line: connects, seconds from the first start to the last CONNACK, the
 * process CPU over that time, the CONNECT latency (TCP connected to CONNACK, as fleetsim's CONNECT
 * row measures it from CONNECT on the wire) p50/p99 in ms, failures and max RSS.
 */
const [url, countText, rateText, ca] = process.argv.slice(2);
if (!url || !countText || !rateText) throw new Error('usage: mqtt-connect-loop.ts URL COUNT RATE [CA_FILE]');
const count = Number(countText);
const rate = Number(rateText);
const tls = ca === undefined ? {} : { ca: [await import('node:fs').then((fs) => fs.readFileSync(ca))], rejectUnauthorized: true };

const clients: MqttClient[] = [];
const latencies = new Float64Array(count);
let online = 0;
let failures = 0;
let ended = 0;
const cpuBefore = process.cpuUsage();
const started = performance.now();
let lastConnack = started;

const done = new Promise<void>((resolve) => {
  const settle = (): void => {
    if (online + failures === count) resolve();
  };
  function open(i: number): void {
    const client = connect(url as string, { clientId: `plain-conn-${i}`, keepalive: 60, reconnectPeriod: 0, connectTimeout: 30_000, clean: true, protocolVersion: 4, ...tls });
    clients.push(client);
    let onWire = 0;
    let answered = false;
    // The stream is made in connect(); TLS streams say so at secureConnect.
    client.stream.once(ca === undefined ? 'connect' : 'secureConnect', () => (onWire = performance.now()));
    client.once('connect', () => {
      answered = true;
      const now = performance.now();
      latencies[online++] = now - (onWire || now);
      lastConnack = now;
      settle();
    });
    client.once('error', () => undefined);
    client.once('close', () => {
      if (!answered && ended === 0) {
        failures++;
        settle();
      }
    });
  }
  let next = 0;
  const timer = setInterval(() => {
    const due = Math.min(count, Math.floor(((performance.now() - started) * rate) / 1000) + 1);
    while (next < due) open(next++);
    if (next >= count) clearInterval(timer);
  }, 10);
});

// Clients still waiting after two minutes are left out of the counts, as fleetsim's unanswered attempts are.
await Promise.race([done, new Promise<void>((resolve) => setTimeout(resolve, 120_000).unref())]);
const seconds = (lastConnack - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const measured = Array.from(latencies.subarray(0, online)).sort((a, b) => a - b);
ended = 1;
console.log(
  JSON.stringify({
    connects: online,
    failures,
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    p50Ms: percentile(measured, 0.5),
    p99Ms: percentile(measured, 0.99),
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  }),
);
await Promise.all(clients.map((client) => client.endAsync(true)));
process.exit(0);
