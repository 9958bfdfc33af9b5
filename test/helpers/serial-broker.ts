import { startScriptedBroker } from './scripted-broker.ts';

/**
 * A broker of known capacity in its own process: one QoS 1 publish at a time, SERVICE_MS each
 * (1000 / SERVICE_MS a second), the rest queued, so its answers never share the generator's event
 * loop. Prints its port on stdout; on SIGTERM, `publishes N` (every PUBLISH it received), then exits.
 */
const broker = await startScriptedBroker({ puback: { serviceMs: Number(process.env.SERVICE_MS ?? 1) } });
process.stdout.write(`${new URL(broker.url).port}\n`);
process.on('SIGTERM', () => {
  process.stdout.write(`publishes ${broker.publishes}\n`, () => void broker.close().then(() => process.exit(0)));
});
