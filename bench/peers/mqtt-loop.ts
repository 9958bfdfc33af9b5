import type { Socket } from 'node:net';
import { connectAsync } from 'mqtt';
import { runTimedLoops } from './timed-loops.ts';

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
// fleetsim writes with Nagle off; mqtt.js leaves it on, and measured the same or faster with it off.
for (const client of clients) (client.stream as Socket).setNoDelay(true);
await runTimedLoops(clients.length, Number(secondsText), async (loop) => {
  const client = clients[loop];
  if (!client) return 0;
  const topic = `devices/plain-${loop}/lamp/changed`;
  if (burst === 1) await client.publishAsync(topic, payload, { qos: 1 });
  else await Promise.all(Array.from({ length: burst }, () => client.publishAsync(topic, payload, { qos: 1 })));
  return burst;
});
await Promise.all(clients.map((client) => client.endAsync()));
