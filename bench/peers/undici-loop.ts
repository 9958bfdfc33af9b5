import { Pool } from 'undici';
import { runTimedLoops } from './timed-loops.ts';

/** A plain undici Pool loop: CLIENTS concurrent loops POSTing /data for SECONDS. Prints one JSON line. */
const [origin, clientsText, secondsText] = process.argv.slice(2);
if (!origin || !clientsText || !secondsText) throw new Error('usage: undici-loop.ts ORIGIN CLIENTS SECONDS');
const clients = Number(clientsText);
const pool = new Pool(origin, { connections: clients });
const body = JSON.stringify({ temperature: 21.5, humidity: 40.2 });
await runTimedLoops(clients, Number(secondsText), async () => {
  const response = await pool.request({ method: 'POST', path: '/data', body, headers: { 'content-type': 'application/json' } });
  await response.body.text();
  return 1;
});
await pool.close();
