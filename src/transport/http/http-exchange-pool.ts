import { HttpExchange } from './http-exchange.ts';
import type { HttpResultSink } from './http-exchange.ts';

/** What an idle exchange reports to: nothing, since none is dispatched while it waits in the pool. */
const IDLE: HttpResultSink = { httpEnded: () => undefined };

/**
 * The exchanges of the requests in flight, lent to devices one request at a time. A device has at
 * most one request in flight and a paced device has none most of the time, so a slot per device
 * would hold ~800 bytes (the exchange, its request and result, its deadline's timer) for a request
 * every few seconds. The pool grows to the most requests ever in flight at once and reuses them:
 * nothing is allocated per request once it has.
 */
export class HttpExchangePool {
  private readonly idle: HttpExchange[] = [];

  /** An exchange that reports to `sink`, for one request of device `deviceIndex`. */
  acquire(deviceIndex: number, sink: HttpResultSink): HttpExchange {
    const exchange = this.idle.pop();
    if (exchange === undefined) return new HttpExchange(deviceIndex, sink);
    exchange.lend(deviceIndex, sink);
    return exchange;
  }

  /** Takes back an exchange whose result was delivered (its sink's `httpEnded` ran): no call on it is still to come. */
  release(exchange: HttpExchange): void {
    exchange.lend(-1, IDLE);
    this.idle.push(exchange);
  }

  /** Exchanges waiting to be lent. */
  get size(): number {
    return this.idle.length;
  }
}
