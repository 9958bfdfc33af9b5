import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { HistoryPoint } from '../metrics/history.ts';
import type { Results } from '../metrics/results.ts';
import { HEARTBEAT_MS, JoinError } from './protocol.ts';
import type { JoinReply, ReadyReply } from './protocol.ts';

/**
 * A worker's side of the protocol (see protocol.ts): join, keep a heartbeat, wait at the barrier,
 * stream each interval, send the results and the request log. Intervals are sent in order, one
 * at a time; one that cannot be sent is dropped (the results carry the whole history anyway).
 */
export class CoordinatorClient {
  private heartbeat: NodeJS.Timeout | undefined;
  private index = -1;
  private runStartedAtMs = 0;
  private sending: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly url: string,
    private readonly token: string,
  ) {}

  /** Joins, trying again while the coordinator cannot be reached yet (pods start in any order), up to `waitMs`. */
  async join(waitMs = 120_000): Promise<JoinReply> {
    const deadline = Date.now() + waitMs;
    let joined: JoinReply | undefined;
    while (!joined) {
      try {
        joined = (await this.post('/join', {})) as JoinReply;
      } catch (error) {
        if (!(error instanceof JoinError) || !error.message.startsWith('cannot reach') || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
    this.index = joined.index;
    this.heartbeat = setInterval(() => void this.post('/heartbeat', { index: this.index }).catch(() => undefined), HEARTBEAT_MS);
    return joined;
  }

  /** Says ready and waits for the barrier; resolves at the common start. */
  async ready(): Promise<number> {
    const { startAtMs } = (await this.post('/ready', { index: this.index })) as ReadyReply;
    const wait = startAtMs - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    this.runStartedAtMs = Date.now();
    return startAtMs;
  }

  interval(point: HistoryPoint): void {
    this.sending = this.sending.then(() => this.post('/interval', { index: this.index, runStartedAtMs: this.runStartedAtMs, point }).catch(() => undefined));
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
  }

  private async post(route: string, body: unknown): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(new URL(route, this.url), {
        method: 'POST',
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        // The barrier holds /ready until every worker is ready: as long as the slowest warm-up.
        signal: AbortSignal.timeout(route === '/ready' ? 3_600_000 : 60_000),
      });
    } catch (error) {
      throw new JoinError(`cannot reach the coordinator at ${this.url} (${error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error)})`);
    }
    const answer = (await response.json().catch(() => ({}))) as { error?: string };
    if (!response.ok) throw new JoinError(`the coordinator at ${this.url} answered ${response.status} to ${route}: ${answer.error ?? response.statusText}`);
    return answer;
  }
}
