import { once } from 'node:events';
import { HttpFixture } from '../../broker-fixture/index.ts';
import type { Output } from './run-command.ts';

export interface FixtureFlags {
  readonly httpPort: number;
  readonly host: string;
  readonly latency: number;
  readonly errorRate: number;
}

/** `fleetsim fixture`: the embedded fixtures standalone, until Ctrl-C. */
export async function fixtureCommand(flags: FixtureFlags, output: Output, signals: NodeJS.EventEmitter = process): Promise<number> {
  const http = new HttpFixture({ latencyMs: flags.latency, errorRate: flags.errorRate });
  const url = await http.listen(flags.httpPort, flags.host);
  output.stderr(`HTTP fixture listening on ${url} (routes: GET /greet, POST /data, POST /health, GET /ota; counts at GET /__fixture/counts). Ctrl-C stops it.`);
  await once(signals, 'SIGINT');
  await http.close();
  output.stdout(JSON.stringify(http.counts, null, 2));
  return 0;
}
