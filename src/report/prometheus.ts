import { channel } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Engine } from '../engine/engine.ts';
import { UsageError } from '../errors.ts';
import type { HistoryPoint } from '../metrics/history.ts';
import type { Reporter } from './reporter.ts';
import { createFleetRegistry } from './prometheus-metrics.ts';
import type { MetricsSource } from './prometheus-metrics.ts';

export interface MetricsEndpoint {
  readonly port: number;
  readonly host: string;
}

/** What subscribers of `FINAL_SCRAPE_CHANNEL` receive. */
export interface FinalScrapeMessage {
  /** The endpoint, still serving the final counters. */
  readonly url: string;
  /** Promises pushed here are awaited (bounded by FINAL_HOLD_MS) before the endpoint closes. */
  readonly holds: Promise<unknown>[];
}

/**
 * Published once the final results are written and before the endpoint closes: a subscriber (a
 * test, or an embedding that wants a last scrape) may hand back a promise to keep it serving.
 */
export const FINAL_SCRAPE_CHANNEL = 'fleetsim:metrics:final';
const finalScrape = channel(FINAL_SCRAPE_CHANNEL);

/** A subscriber cannot keep the run from exiting for longer than this. */
const FINAL_HOLD_MS = 10_000;

/**
 * `--metrics-port`: a Prometheus `/metrics` endpoint on node:http that serves from `prepare` (so a
 * scraper sees the run from its first interval) until `close`, after the final results are
 * written, so a scrape at the end reads the final counters.
 */
export class PrometheusReporter implements Reporter {
  readonly flag = '--metrics-port';
  /** Where a scrape reads from: the attached engine, or what `follow` was given. */
  private read: (() => MetricsSource | undefined) | undefined;
  private readonly registry: Registry;
  private readonly server: Server;
  private address: AddressInfo | undefined;

  constructor(
    private readonly endpoint: MetricsEndpoint,
    private readonly say: (line: string) => void,
    processMetrics = true,
  ) {
    this.registry = createFleetRegistry(() => this.source(), { processMetrics });
    this.server = createServer((request, response) => this.serve(request, response));
    // The run keeps the process alive; the endpoint alone must not, should a later setup step fail before close.
    this.server.unref();
  }

  get url(): string | undefined {
    if (!this.address) return undefined;
    const host = this.address.family === 'IPv6' ? `[${this.address.address}]` : this.address.address;
    return `http://${host}:${this.address.port}/metrics`;
  }

  async prepare(): Promise<void> {
    const { port, host } = this.endpoint;
    this.server.listen({ port, host });
    try {
      await once(this.server, 'listening');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') throw new UsageError(`--metrics-port: ${host}:${port} is already in use; pick another port (0 picks a free one)`);
      if (code === 'EACCES') throw new UsageError(`--metrics-port: no permission to listen on ${host}:${port}; use a port above 1023`);
      if (code === 'EADDRNOTAVAIL') throw new UsageError(`--metrics-host: cannot listen on ${host} (${code}): not an address of this machine`);
      if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') throw new UsageError(`--metrics-host: cannot listen on ${host} (${code}): the name does not resolve`);
      throw error;
    }
    this.address = this.server.address() as AddressInfo;
    this.say(`Prometheus metrics at ${this.url ?? ''}`);
  }

  attach(engine: Engine): void {
    let latest: HistoryPoint | undefined;
    engine.on('interval', (point) => {
      latest = point;
    });
    // The shape's target now (a stage's, a ramp's), as the console and the page show it, not the fleet's size.
    this.read = () => ({ entries: engine.stats.entries, devicesOnline: engine.online, devicesTarget: engine.targetDevices, generator: latest?.generator, load: latest?.load });
  }

  /** Serves figures read elsewhere instead of an engine's: a coordinator's merged fleet. */
  follow(read: () => MetricsSource | undefined): void {
    this.read = read;
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    if (finalScrape.hasSubscribers && this.url !== undefined) {
      const message: FinalScrapeMessage = { url: this.url, holds: [] };
      finalScrape.publish(message);
      if (message.holds.length > 0) await settleWithin(message.holds, FINAL_HOLD_MS);
    }
    const closed = once(this.server, 'close');
    this.server.close();
    // A scraper's keep-alive connection would hold the close open until its idle timeout.
    this.server.closeIdleConnections();
    await closed;
  }

  private source(): MetricsSource | undefined {
    return this.read?.();
  }

  private serve(request: IncomingMessage, response: ServerResponse): void {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('fleetsim serves Prometheus metrics at /metrics\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    this.registry.metrics().then(
      (text) => {
        response.writeHead(200, { 'content-type': this.registry.contentType });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        response.end(`${error instanceof Error ? error.message : String(error)}\n`);
      },
    );
  }
}

async function settleWithin(promises: readonly Promise<unknown>[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.allSettled(promises), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
