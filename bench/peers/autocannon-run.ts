import autocannon from 'autocannon';
import { printPeerResult } from './timed-loops.ts';

/**
 * autocannon, in-process so its CPU can be read: CONNECTIONS connections POSTing /data for SECONDS,
 * from START_AT (epoch ms, for a run beside another tool) or at once.
 */
const [origin, connectionsText, secondsText, startAtText] = process.argv.slice(2);
if (!origin || !connectionsText || !secondsText) throw new Error('usage: autocannon-run.ts ORIGIN CONNECTIONS SECONDS [START_AT_MS]');
if (startAtText) await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(startAtText) - Date.now())));
const cpuBefore = process.cpuUsage();
const result = await autocannon({
  url: `${origin}/data`,
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ temperature: 21.5, humidity: 40.2 }),
  connections: Number(connectionsText),
  duration: Number(secondsText),
});
// autocannon counts any answer as a request; its rate stands only if every one was a 2xx.
if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
  throw new Error(`autocannon had ${result.non2xx} non-2xx answers, ${result.errors} errors and ${result.timeouts} timeouts`);
}
printPeerResult(result.requests.total, result.duration, cpuBefore);
