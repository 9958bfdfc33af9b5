import { UsageError } from '../errors.ts';
import { BrokerStatsProbe } from '../transport/mqtt/broker-stats.ts';

const PORTS: Readonly<Record<string, number>> = { 'mqtt:': 1883, 'ws:': 80 };

/** `--broker-stats`: a probe on the run's broker, connected and subscribed to `$SYS/#` before the run starts. */
export async function startBrokerStats(broker: string | undefined): Promise<BrokerStatsProbe> {
  if (broker === undefined) throw new UsageError('--broker-stats: the run has no MQTT broker to watch');
  const url = new URL(broker);
  const port = PORTS[url.protocol];
  // A TLS broker would need the probe to have its own client certificate: not supported yet.
  if (port === undefined) throw new UsageError(`--broker-stats: only mqtt:// and ws:// brokers for now, got '${url.protocol}//…'`);
  const probe = new BrokerStatsProbe();
  try {
    await probe.start({
      host: url.hostname.replace(/^\[(.*)\]$/u, '$1'),
      port: url.port === '' ? port : Number(url.port),
      webSocketUrl: url.protocol === 'ws:' ? url.href : undefined,
      tls: undefined,
      clientId: `fleetsim-broker-stats-${process.pid}`,
      protocolVersion: 4,
      clean: true,
      keepaliveS: 60,
      username: undefined,
      password: undefined,
      will: undefined,
      connectTimeoutMs: 10_000,
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  return probe;
}
