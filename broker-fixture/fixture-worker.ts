import { parentPort, workerData } from 'node:worker_threads';
import { HttpFixture } from './http-fixture.ts';
import type { HttpFixtureOptions } from './http-fixture.ts';

/** Worker-thread entry: the fixtures get their own event loop, so they never steal the simulator's. */
interface WorkerConfig {
  readonly http: HttpFixtureOptions & { readonly port?: number; readonly host?: string };
}

const config = workerData as WorkerConfig;
const port = parentPort;
if (!port) throw new Error('fixture-worker must run as a worker thread');

const fixture = new HttpFixture(config.http);
const url = await fixture.listen(config.http.port ?? 0, config.http.host ?? '127.0.0.1');
port.postMessage({ type: 'ready', httpUrl: url });
port.on('message', (message: { type: string }) => {
  if (message.type === 'counts') port.postMessage({ type: 'counts', counts: fixture.counts });
  if (message.type === 'close') {
    void fixture.close().then(() => {
      port.postMessage({ type: 'closed' });
      port.close();
    });
  }
});
