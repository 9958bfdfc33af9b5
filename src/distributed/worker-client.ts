import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { HistoryPoint } from '../metrics/history.ts';
import type { Results } from '../metrics/results.ts';
import { HEARTBEAT_MS, JoinError } from './protocol.ts';
import type { JoinReply, RampOrder, ReadyReply, StopReason, StopReply } from './protocol.ts';

/**
 * A worker's side of the protocol (see protocol.ts): join, keep a heartbeat, wait at the barrier,
 * stream each interval, send the results and the request log. Intervals are sent in order, one
 * at a time; one that cannot be sent is dropped (the results carry the whole history anyway).
 * The coordinator's `stop` (or a 410: this worker was declared lost) reaches `onStop`, once; a
 * change of the fleet's device count (`rampTo`) reaches `onRamp`, each time one comes.
 */
export class CoordinatorClient {
  private heartbeat: NodeJS.Timeout | undefined;
  private index = -1;
  private runStartedAtMs = 0;
  private sending: Promise<unknown> = Promise.resolve();
  /** Aborts what only waits (joining, the barrier): a stopped worker must not be kept alive by them. */
  private readonly waiting = new AbortController();
  private stopped = false;
  /** Set by the worker once its engine runs: applies the coordinator's change of the device count. */
  onRamp: (order: RampOrder) => void = () => undefined;

  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly onStop: (reason: StopReason) => void = () => undefined,
  ) {}

  /** Joins, trying again while the coordinator cannot be reached yet (pods start in any order), up to `waitMs`. */
  async join(waitMs = 120_000): Promise<JoinReply> {
    const deadline = Date.now() + waitMs;
    let joined: JoinReply | undefined;
    while (!joined) {
      try {
        // The pid tells a coordinator's own local workers apart (it sees each one's exit).
        joined = (await this.post('/join', { pid: process.pid })) as JoinReply;
      } catch (error) {
        if (!(error instanceof JoinError) || !error.message.startsWith('cannot reach') || Date.now() > deadline || this.waiting.signal.aborted) throw error;
        await this.pause(1000);
      }
    }
    this.index = joined.index;
    this.heartbeat = setInterval(() => void this.post('/heartbeat', { index: this.index }).catch(() => undefined), HEARTBEAT_MS);
    return joined;
  }

  /** Says ready and waits for the barrier; resolves at the common start, or with -1 once stopped (`stopWaiting`, the coordinator's stop). */
  async ready(): Promise<number> {
    let startAtMs: number;
    try {
      ({ startAtMs } = (await this.post('/ready', { index: this.index })) as ReadyReply);
    } catch (error) {
      if (this.waiting.signal.aborted) return -1;
      throw error;
    }
    if (startAtMs < 0) return -1;
    const wait = startAtMs - Date.now();
    if (wait > 0) await this.pause(wait);
    this.runStartedAtMs = Date.now();
    return this.waiting.signal.aborted ? -1 : startAtMs;
  }

  /** Ends any wait to join or at the barrier (this worker got a signal); heartbeats go on until `close`. */
  stopWaiting(): void {
    this.waiting.abort();
  }

  /** `devicesGoal`: where this worker's count is heading (its ramp's goal), for the fleet's target. */
  interval(point: HistoryPoint, devicesGoal?: number): void {
    const message = { index: this.index, runStartedAtMs: this.runStartedAtMs, point, ...(devicesGoal === undefined ? {} : { devicesGoal }) };
    this.sending = this.sending.then(() => this.post('/interval', message).catch(() => undefined));
  }

  async results(results: Results): Promise<void> {
    await this.sending;
    await this.post('/results', { index: this.index, runStartedAtMs: this.runStartedAtMs, results });
  }

  async sendLog(file: string): Promise<void> {
    const { size } = await stat(file);
    await new Promise<void>((resolve, reject) => {
      const url = new URL(`/log?index=${this.index}`, this.url);
      const req = httpRequest(url, { method: 'POST', headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/x-ndjson', 'content-length': size } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new JoinError(`the coordinator refused the request log (HTTP ${res.statusCode ?? '?'})`))));
      });
      req.on('error', reject);
      createReadStream(file).pipe(req);
    });
  }

  close(): void {
    clearInterval(this.heartbeat);
    this.waiting.abort();
  }

  private async pause(ms: number): Promise<void> {
    if (this.waiting.signal.aborted) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiting.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiting.signal.addEventListener('abort', done);
    });
  }

  private stop(reason: StopReason): void {
    if (this.stopped) return;
    this.stopped = true;
    this.onStop(reason);
  }

  private async post(route: string, body: unknown): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(new URL(route, this.url), {
        method: 'POST',
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        // The barrier holds /ready until every worker is ready: as long as the slowest warm-up.
        signal: route === '/ready' || route === '/join' ? AbortSignal.any([AbortSignal.timeout(route === '/ready' ? 3_600_000 : 60_000), this.waiting.signal]) : AbortSignal.timeout(60_000),
      });
    } catch (error) {
      throw new JoinError(`cannot reach the coordinator at ${this.url} (${error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error)})`);
    }
    const answer = (await response.json().catch(() => ({}))) as StopReply & { error?: string };
    // Declared lost: its part of the run is over, so it stops rather than load the target unseen.
    if (response.status === 410 && route !== '/join') this.stop('interrupted');
    if (answer.stop !== undefined) this.stop(answer.stop);
    else if (answer.rampTo !== undefined) this.onRamp(answer.rampTo);
    if (!response.ok) throw new JoinError(`the coordinator at ${this.url} answered ${response.status} to ${route}: ${answer.error ?? response.statusText}`);
    return answer;
  }
}
