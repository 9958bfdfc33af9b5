import type { HttpAction } from '../../profile/types.ts';
import type { TemplateContext } from '../../template/context.ts';
import type { HttpExchange } from '../../transport/http/http-exchange.ts';
import type { AttemptResult } from '../../transport/types.ts';
import { elapsedMicros } from '../../util/clock.ts';
import type { SentAttempt } from '../mqtt/mqtt-attempt.ts';
import { latencyFromIntendedMicros, startedLate } from '../schedule/wait.ts';
import type { BoundStep } from './bound-model.ts';
import { applyCaptures, captureFromJson } from './captures.ts';
import type { VirtualDevice } from './device.ts';
import type { DeviceHost } from './device-host.ts';
import { encodePathChars } from './request-path.ts';

function renderHeaders(action: HttpAction, context: TemplateContext): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, template] of action.headers) headers[name] = String(template.evaluate(context));
  return headers;
}

/**
 * A device's HTTP attempts, one at a time: renders the step against the device, sends it through
 * an exchange borrowed from the host's pool for that attempt, and times and records the answer. The device makes one on its first
 * HTTP step (devices that only speak MQTT carry none) and decides what runs next. It is also what
 * the request log shows of the attempt: each attempt rewrites its fields, so none needs a record.
 */
export class HttpStepSender implements SentAttempt {
  seq = 0;
  target = '';
  body: string | undefined = undefined;
  intendedAt = 0;
  timeMs = 0;
  /** The first attempt of its task: pacing promises when a task starts, so only it can be late. */
  first = false;
  /** Clock ms the attempt was sent, and its answer came. */
  startedAt = 0;
  endedAt = 0;
  private start = 0n;
  /** The borrowed exchange of the attempt in flight. */
  private exchange: HttpExchange | undefined;

  constructor(
    private readonly device: VirtualDevice,
    private readonly host: DeviceHost,
  ) {}

  /** Sends one attempt of `step`; `taskIntendedAt` is when the task was meant to start, which a first attempt is timed from. */
  send(step: BoundStep, first: boolean, taskIntendedAt: number): void {
    const device = this.device;
    const action = step.spec.action as HttpAction;
    this.first = first;
    this.seq = device.seq;
    device.timeMs = 0;
    const path = encodePathChars(String(action.path.evaluate(device)));
    const body = action.body ? action.body(device) : undefined;
    // The device hears the answer (it decides what runs next), and hands it back to `ended`.
    const exchange = (this.exchange = this.host.httpExchanges.acquire(device.deviceIndex, device));
    exchange.prepare(action.method, path, action.fixedHeaders ?? renderHeaders(action, device), body, action.timeoutMs, action.expectStatus, step.spec.captures.length > 0);
    device.seq++;
    this.target = path;
    this.body = body;
    this.timeMs = device.timeMs;
    this.startedAt = this.host.now();
    this.intendedAt = first ? taskIntendedAt : this.startedAt;
    this.start = process.hrtime.bigint();
    this.host.sendHttp(exchange);
  }

  /**
   * Records the answer to the attempt of `step` in flight and returns its result: a failure when a
   * capture is missing. `paced`: it is a paced task's first attempt, timed from `taskIntendedAt`.
   * Captured values replace the device's variables only after the attempt is logged, as what it sent.
   */
  ended(step: BoundStep, received: AttemptResult, paced: boolean, taskIntendedAt: number): AttemptResult {
    const host = this.host;
    let latencyMicros = elapsedMicros(this.start);
    const endedAt = (this.endedAt = host.now());
    // In a shared pool, the wait for a free connection is fleetsim's queue, not the target's time:
    // it is measured apart and the latency runs from when the request got its connection.
    const exchange = this.exchange as HttpExchange;
    const connectedAt = exchange.connectedAt;
    let queuedMicros = -1;
    if (host.sharedHttpPool && !this.device.ownHttpConnection && connectedAt > 0n) {
      queuedMicros = Math.min(latencyMicros, Number(connectedAt - this.start) / 1000);
      latencyMicros -= queuedMicros;
    }
    const captures = step.spec.captures;
    let result = received;
    let captured: ReturnType<typeof captureFromJson> | undefined;
    if (captures.length > 0 && received.outcome === 'ok') {
      captured = captureFromJson(captures, received.body ?? '');
      if (typeof captured === 'string') result = { outcome: 'failure', error: captured, bytesIn: received.bytesIn, answered: true };
    }
    const late = paced && startedLate(this.startedAt, taskIntendedAt);
    const intendedMicros = paced ? latencyFromIntendedMicros(latencyMicros, taskIntendedAt, endedAt) : -1;
    host.onAttempt(this.device, step.stats, this, result, latencyMicros, intendedMicros, late, queuedMicros);
    // Logged: the attempt's strings are dropped now rather than kept for seconds until the next one.
    this.target = '';
    this.body = undefined;
    if (captured !== undefined) applyCaptures(captured, this.device.vars);
    // Its result was delivered: nothing more comes through it. `received` is read only before the
    // device's next request, and a lent exchange is rewritten only by that request's answer.
    this.exchange = undefined;
    host.httpExchanges.release(exchange);
    return result;
  }
}
