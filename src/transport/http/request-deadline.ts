/** Errors undici's own timeouts carry, so `classifyHttpError` labels ours the same; only their code is read. */
const HEADERS_TIMEOUT = Object.assign(new Error('no response headers in time'), { code: 'UND_ERR_HEADERS_TIMEOUT' });
const BODY_TIMEOUT = Object.assign(new Error('response body stalled'), { code: 'UND_ERR_BODY_TIMEOUT' });

/** What a deadline ends: the request's undici controller (`DispatchController.abort`). */
export interface Abortable {
  abort(reason: Error): void;
}

const enum Phase {
  Idle,
  Headers,
  Body,
}

/**
 * A request's timeout on a native timer. undici runs timeouts over 1 s on its own coarse timers,
 * which tick every ~0.5 s, so a 2 s timeout fired anywhere from 2.0 to 2.5 s; this one fires at its
 * deadline (plus the event loop's lag). Like undici's, it bounds the wait for the response headers
 * from when the request is written, then each gap while the body arrives.
 *
 * One timer per exchange, re-armed with `refresh()` for every request: nothing is allocated per
 * request. It is not cleared when a request ends (a cleared timer cannot be refreshed): a firing
 * with nothing in flight does nothing, and the timer is unref'd so it never holds the process.
 */
export class RequestDeadline {
  private timer: NodeJS.Timeout | undefined;
  private timerMs = 0;
  private phase = Phase.Idle;
  private controller: Abortable | undefined;

  /** The timer's callback, shared by every deadline: its own closure and context cost a device ~96 bytes, the argument array ~56. */
  private static fire(this: void, deadline: RequestDeadline): void {
    const controller = deadline.controller;
    if (deadline.phase === Phase.Idle || !controller) return;
    const error = deadline.phase === Phase.Headers ? HEADERS_TIMEOUT : BODY_TIMEOUT;
    deadline.stop();
    controller.abort(error);
  }

  /** The request was written onto a connection (undici's `onRequestStart`): the wait for headers begins. */
  start(ms: number, controller: Abortable): void {
    this.controller = controller;
    this.phase = Phase.Headers;
    if (this.timer && this.timerMs === ms) {
      this.timer.refresh();
      return;
    }
    // A step with another timeout than the last: the only case that makes a new timer.
    clearTimeout(this.timer);
    this.timerMs = ms;
    // The deadline rides as the timer's argument, which refresh() keeps.
    this.timer = setTimeout(RequestDeadline.fire, ms, this).unref();
  }

  /** Headers arrived: from now on the deadline bounds each gap in the body. */
  headers(): void {
    if (this.phase === Phase.Idle) return;
    this.phase = Phase.Body;
    this.timer?.refresh();
  }

  data(): void {
    if (this.phase === Phase.Body) this.timer?.refresh();
  }

  stop(): void {
    this.phase = Phase.Idle;
    this.controller = undefined;
  }
}
