import { once } from 'node:events';
import { HttpFixture, MqttFixture } from '../../broker-fixture/index.ts';
import { UsageError } from '../errors.ts';
import { formatDuration, MAX_DURATION_MS, parseDurationMs } from '../profile/duration.ts';
import { last } from '../run/overrides.ts';
import type { FlagValue } from '../run/overrides.ts';
import type { Output } from './run-command.ts';

export interface FixtureFlags {
  readonly httpPort: FlagValue;
  readonly mqttPort: FlagValue;
  readonly otaAfter: FlagValue;
  readonly host: FlagValue;
  readonly latency: FlagValue;
  readonly errorRate: FlagValue;
  readonly serviceTime: FlagValue;
  readonly tokenTtl: FlagValue;
}

function numberIn(flag: string, given: FlagValue, min: number, max: number, integer: boolean): number {
  const text = last(given) ?? '';
  const value = text.trim() === '' ? Number.NaN : Number(text);
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new UsageError(`--${flag}: expected ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, got '${text}'`);
  }
  return value;
}

/** `fleetsim fixture`: the embedded fixtures standalone, until Ctrl-C. */
export async function fixtureCommand(flags: FixtureFlags, output: Output, signals: NodeJS.EventEmitter = process): Promise<number> {
  const port = numberIn('http-port', flags.httpPort, 0, 65_535, true);
  const latencyMs = numberIn('latency', flags.latency, 0, 600_000, false);
  const errorRate = numberIn('error-rate', flags.errorRate, 0, 1, false);
  const serviceMs = numberIn('service-time', flags.serviceTime, 0, 60_000, false);
  const mqttPort = numberIn('mqtt-port', flags.mqttPort, 0, 65_535, true);
  const otaAfterMs = numberIn('ota-after', flags.otaAfter, 0, 86_400_000, false);
  const host = last(flags.host) ?? '127.0.0.1';
  const ttlText = last(flags.tokenTtl) ?? '0';
  const tokenTtlMs = parseDurationMs(ttlText);
  if (tokenTtlMs === undefined || tokenTtlMs > MAX_DURATION_MS) throw new UsageError(`--token-ttl: expected a duration such as 10s or 15m (0: tokens never expire), got '${ttlText}'`);
  const http = new HttpFixture({ latencyMs, errorRate, serviceMs, tokenTtlMs });
  const mqtt = new MqttFixture({ otaAfterMs });
  let url: string;
  let brokerUrl: string;
  try {
    url = await listenOn('--http-port', host, port, () => http.listen(port, host));
    brokerUrl = await listenOn('--mqtt-port', host, mqttPort, () => mqtt.listen(mqttPort, host));
  } catch (error) {
    await Promise.all([http.close(), mqtt.close()]);
    throw error;
  }
  output.stderr(
    `HTTP fixture listening on ${url} (IoT routes GET /greet, POST /data, POST /health, GET /ota; the market API under /api/v1${tokenTtlMs > 0 ? `, access tokens valid for ${formatDuration(tokenTtlMs)}` : ''}; counts at GET /__fixture/counts). ` +
      `MQTT broker (Aedes, MQTT 3.1.1) on ${brokerUrl}${otaAfterMs > 0 ? `; a device subscribing to devices/<id>/ota gets one OTA command ${otaAfterMs} ms later` : ''}. Ctrl-C stops them.`,
  );
  await Promise.race([once(signals, 'SIGINT'), once(signals, 'SIGTERM')]);
  await Promise.all([http.close(), mqtt.close()]);
  output.stdout(JSON.stringify({ http: http.counts, mqtt: mqtt.counts }, null, 2));
  return 0;
}

async function listenOn(flag: string, host: string, port: number, listen: () => Promise<string>): Promise<string> {
  try {
    return await listen();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new UsageError(`${flag}: ${host}:${port} is already in use; pick another port (0 picks a free one)`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EACCES') throw new UsageError(`--host/${flag}: cannot listen on ${host}:${port} (${code})`);
    throw error;
  }
}
