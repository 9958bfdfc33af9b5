import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { runTimedLoops } from './timed-loops.ts';

/**
 * A plain undici loop: CLIENTS concurrent loops POSTing /data for SECONDS, through `Pool.request`
 * (the documented API) or `Pool.dispatch` with a bare handler (the level below it), on the legacy
 * hooks (`dispatch`) or the controller-style ones (`controller`), which undici 7 adapts to the
 * legacy ones per request: the two side by side show what that adapter costs. Prints one JSON line.
 */
const [origin, clientsText, secondsText, mode = 'request'] = process.argv.slice(2);
if (!origin || !clientsText || !secondsText || !['request', 'dispatch', 'controller'].includes(mode)) throw new Error('usage: undici-loop.ts ORIGIN CLIENTS SECONDS [request|dispatch|controller]');
const clients = Number(clientsText);
const pool = new Pool(origin, { connections: clients });
const body = JSON.stringify({ temperature: 21.5, humidity: 40.2 });
const headers = { 'content-type': 'application/json' };

// A peer's rate counts only answered requests, as fleetsim's does: any other status ends the run.
function unexpected(status: number): Error {
  return new Error(`POST /data answered ${status}`);
}

async function viaRequest(): Promise<number> {
  const response = await pool.request({ method: 'POST', path: '/data', body, headers });
  await response.body.text();
  if (response.statusCode < 200 || response.statusCode >= 300) throw unexpected(response.statusCode);
  return 1;
}

function viaDispatch(): Promise<number> {
  return new Promise((resolve, reject) => {
    let status = 0;
    const handler: Dispatcher.DispatchHandler = {
      onConnect: () => undefined,
      onHeaders: (statusCode) => {
        status = statusCode;
        return true;
      },
      onData: () => true,
      onComplete: () => (status >= 200 && status < 300 ? resolve(1) : reject(unexpected(status))),
      onError: reject,
    };
    pool.dispatch({ method: 'POST', path: '/data', body, headers }, handler);
  });
}

function viaController(): Promise<number> {
  return new Promise((resolve, reject) => {
    let status = 0;
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart: () => undefined,
      onResponseStart: (_controller, statusCode) => {
        status = statusCode;
      },
      onResponseData: () => undefined,
      onResponseEnd: () => (status >= 200 && status < 300 ? resolve(1) : reject(unexpected(status))),
      onResponseError: (_controller, error) => reject(error),
    };
    pool.dispatch({ method: 'POST', path: '/data', body, headers }, handler);
  });
}

await runTimedLoops(clients, Number(secondsText), mode === 'request' ? viaRequest : mode === 'dispatch' ? viaDispatch : viaController);
await pool.close();
