import { HttpFixture } from '../../broker-fixture/index.ts';

/**
 * The HTTP fixture as a server of known capacity: one request at a time, 5 ms each (about 200
 * requests per second), the rest queued in arrival order. Run as its own process
 * (`node --import tsx serial-server.ts`), so neither the generator nor wrk shares its event loop;
 * it prints its port on stdout.
 */
const fixture = new HttpFixture({ serviceMs: Number(process.env.SERVICE_MS ?? 5) });
const url = await fixture.listen(0);
process.stdout.write(`${new URL(url).port}\n`);
process.on('SIGTERM', () => void fixture.close().then(() => process.exit(0)));
