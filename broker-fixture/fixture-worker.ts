import { parentPort, workerData } from 'node:worker_threads';
import { HttpFixture } from './http-fixture.ts';
import type { HttpFixtureOptions } from './http-fixture.ts';
import { MqttFixture } from './mqtt-fixture.ts';
import type { MqttFixtureOptions } from './mqtt-fixture.ts';

/** Worker-thread entry: the fixtures get their own event loop, so they never steal the simulator's. */
interface WorkerConfig {
  readonly http: HttpFixtureOptions & { readonly port?: number; readonly host?: string };
  readonly mqtt: MqttFixtureOptions & { readonly port?: number; readonly host?: string };
}

const config = workerData as WorkerConfig;
const port = parentPort;
if (!port) throw new Error('fixture-worker must run as a worker thread');

const http = new HttpFixture(config.http);
const mqtt = new MqttFixture(config.mqtt);
const httpUrl = await http.listen(config.http.port ?? 0, config.http.host ?? '127.0.0.1');
const brokerUrl = await mqtt.listen(config.mqtt.port ?? 0, config.mqtt.host ?? '127.0.0.1');
port.postMessage({ type: 'ready', httpUrl, brokerUrl });
port.on('message', (message: { type: string }) => {
  if (message.type === 'counts') port.postMessage({ type: 'counts', counts: http.counts });
  if (message.type === 'mqttCounts') port.postMessage({ type: 'mqttCounts', counts: mqtt.counts });
  if (message.type === 'close') {
    void Promise.all([http.close(), mqtt.close()]).then(() => {
      port.postMessage({ type: 'closed' });
      port.close();
    });
  }
});
