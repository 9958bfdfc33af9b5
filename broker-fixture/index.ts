import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { FixtureCounts, HttpFixtureOptions } from './http-fixture.ts';
import type { MqttCounts, MqttFixtureOptions } from './mqtt-fixture.ts';

export { HttpFixture } from './http-fixture.ts';
export type { FixtureCounts, HttpFixtureOptions, RouteCount } from './http-fixture.ts';
export { MqttFixture } from './mqtt-fixture.ts';
export type { MqttCounts, MqttFixtureOptions } from './mqtt-fixture.ts';

export interface RunningFixtures {
  readonly httpUrl: string;
  readonly brokerUrl: string;
  /** What the HTTP fixture served, per route. */
  counts(): Promise<FixtureCounts>;
  mqttCounts(): Promise<MqttCounts>;
  close(): Promise<void>;
}

export interface FixtureOptions {
  readonly http?: HttpFixtureOptions & { readonly port?: number; readonly host?: string };
  readonly mqtt?: MqttFixtureOptions & { readonly port?: number; readonly host?: string };
}

const fromSource = import.meta.url.endsWith('.ts');
const entry = new URL(fromSource ? './fixture-worker.ts' : './fixture-worker.js', import.meta.url);
// From TypeScript sources (tests, `npm start`) the worker goes through a bootstrap that registers the loader.
const workerFile = fromSource ? new URL('./ts-worker-bootstrap.mjs', import.meta.url) : entry;

/** Starts the embedded fixtures in a worker thread and resolves once they listen. */
export async function startFixtures(options: FixtureOptions = {}): Promise<RunningFixtures> {
  const worker = new Worker(workerFile, { workerData: { http: options.http ?? {}, mqtt: options.mqtt ?? {}, entry: entry.href } });
  // A worker that throws or exits must fail whoever waits on it, never leave them hanging.
  let exited = false;
  const died = new Promise<never>((_, reject) => {
    worker.once('error', (error) => reject(new Error(`the embedded fixture failed: ${error.message}`)));
    worker.once('exit', (code) => {
      exited = true;
      reject(new Error(`the embedded fixture stopped (exit code ${code})`));
    });
  });
  died.catch(() => undefined);
  const [ready] = (await Promise.race([once(worker, 'message'), died])) as [{ httpUrl: string; brokerUrl: string }];
  const request = async <T>(type: string): Promise<T> => {
    worker.postMessage({ type });
    for (;;) {
      const [message] = (await Promise.race([once(worker, 'message'), died])) as [{ type: string } & T];
      if (message.type === type || (type === 'close' && message.type === 'closed')) return message;
    }
  };
  return {
    httpUrl: ready.httpUrl,
    brokerUrl: ready.brokerUrl,
    counts: async () => (await request<{ counts: FixtureCounts }>('counts')).counts,
    mqttCounts: async () => (await request<{ counts: MqttCounts }>('mqttCounts')).counts,
    close: async () => {
      if (exited) return;
      await request('close').catch(() => undefined);
      await worker.terminate();
    },
  };
}
