import { connectAsync } from 'mqtt';

/**
 * The peer fleetsim's MQTT numbers are compared with: plain mqtt.js clients publishing QoS 1 as fast
 * as the broker acks. `await-each` awaits every PUBACK before the next publish (the classic loop);
 * `burst-N` keeps N publishes in flight per client, as lamp-flat-out does. Prints one JSON line.
 */
const [url, clientsText, secondsText, mode = 'await-each'] = process.argv.slice(2);
if (!url || !clientsText || !secondsText) throw new Error('usage: mqtt-loop.ts URL CLIENTS SECONDS [await-each|burst-N]');
const burst = mode === 'await-each' ? 1 : Number(mode.replace('burst-', ''));
const payload = JSON.stringify({ on: 'true', color: { h: 0.5, s: 0.5 }, brightness: 0.5, client: 'plain' });

const clients = await Promise.all(Array.from({ length: Number(clientsText) }, (_, i) => connectAsync(url, { clientId: `plain-${i}`, reconnectPeriod: 0 }, false)));
let acked = 0;
let running = true;
const cpuBefore = process.cpuUsage();
const started = performance.now();
setTimeout(() => (running = false), Number(secondsText) * 1000);
await Promise.all(
  clients.map(async (client, i) => {
    const topic = `devices/plain-${i}/lamp/changed`;
    while (running) {
      if (burst === 1) await client.publishAsync(topic, payload, { qos: 1 });
      else await Promise.all(Array.from({ length: burst }, () => client.publishAsync(topic, payload, { qos: 1 })));
      acked += burst;
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
await Promise.all(clients.map((client) => client.endAsync()));
console.log(JSON.stringify({ messages: acked, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
