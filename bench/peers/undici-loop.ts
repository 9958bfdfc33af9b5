import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { runTimedLoops } from './timed-loops.ts';

/**
 * A plain undici loop: CLIENTS concurrent loops POSTing /data for SECONDS, through `Pool.request`
 * (the documented API) or `Pool.dispatch` with a bare handler (the level below it). Prints one JSON line.
 */
const [origin, clientsText, secondsText, mode = 'request'] = process.argv.slice(2);
if (!origin || !clientsText || !secondsText || (mode !== 'request' && mode !== 'dispatch')) throw new Error('usage: undici-loop.ts ORIGIN CLIENTS SECONDS [request|dispatch]');
const clients = Number(clientsText);
const pool = new Pool(origin, { connections: clients });
const body = JSON.stringify({ temperature: 21.5, humidity: 40.2 });
const headers = { 'content-type': 'application/json' };

async function viaRequest(): Promise<number> {
  const response = await pool.request({ method: 'POST', path: '/data', body, headers });
  await response.body.text();
  return 1;
}

function viaDispatch(): Promise<number> {
  return new Promise((resolve, reject) => {
    const handler: Dispatcher.DispatchHandler = {
      onConnect: () => undefined,
      onHeaders: () => true,
      onData: () => true,
      onComplete: () => resolve(1),
      onError: reject,
    };
    pool.dispatch({ method: 'POST', path: '/data', body, headers }, handler);
  });
}

await runTimedLoops(clients, Number(secondsText), mode === 'request' ? viaRequest : viaDispatch);
await pool.close();
