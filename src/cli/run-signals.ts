import type { Engine } from '../engine/engine.ts';
import type { HeldSignal } from './early-signals.ts';
import { EXIT } from '../run/run-environment.ts';
import type { Output } from '../run/run-environment.ts';

type Reason = 'interrupted' | 'terminated';

/** How each stopping signal is named to the user, and what sending it again is called. */
const WORDS = {
  interrupted: { stopped: 'Interrupted', again: 'Ctrl-C again' },
  terminated: { stopped: 'Terminated (SIGTERM)', again: 'another SIGTERM or Ctrl-C' },
} as const;

/**
 * A run's signals, from the moment the command starts until its last report is written. The first
 * SIGINT or SIGTERM ends the run wherever it is: before the engine exists it is remembered and the
 * engine, once made, is stopped before it starts (an empty run, whose reports are still written);
 * while running it drains; after the run it only sets the exit code. The second abandons what is in
 * flight (reports are still written); the third quits at once with the first one's code. SIGHUP (a
 * closed terminal) is ignored: the run goes on and writes its reports.
 */
export class RunSignals {
  private count = 0;
  private first: Reason | undefined;
  private engine: Engine | undefined;
  private settle: () => void = () => undefined;
  /** Settles at the first stopping signal: what waits before the run (`--start-at`) stops waiting. */
  readonly stopped = new Promise<void>((resolve) => {
    this.settle = resolve;
  });
  private readonly onInterrupt = (): void => this.onSignal('interrupted');
  private readonly onTerminate = (): void => this.onSignal('terminated');
  private readonly onHangUp = (): void => undefined;

  constructor(
    private readonly signals: NodeJS.EventEmitter,
    private readonly output: Output,
    private readonly quiet: boolean,
  ) {
    signals.on('SIGINT', this.onInterrupt);
    signals.on('SIGTERM', this.onTerminate);
    signals.on('SIGHUP', this.onHangUp);
  }

  /** Replays what arrived before this process could listen (see early-signals), in order. */
  replay(held: readonly HeldSignal[]): void {
    for (const signal of held) {
      if (signal === 'SIGINT') this.onInterrupt();
      else if (signal === 'SIGTERM') this.onTerminate();
    }
  }

  /** The exit code a signal decided (130 or 143), or undefined when none came. */
  get exitCode(): number | undefined {
    if (this.first === undefined) return undefined;
    return this.first === 'terminated' ? EXIT.terminated : EXIT.interrupted;
  }

  /** The run's engine: a signal that came before it stops it now, before it starts. */
  attach(engine: Engine): void {
    this.engine = engine;
    if (this.first === undefined) return;
    engine.stop(this.first);
    if (this.count >= 2) engine.abandonDrain();
  }

  /** Stops listening: the command is over. */
  dispose(): void {
    this.signals.off('SIGINT', this.onInterrupt);
    this.signals.off('SIGTERM', this.onTerminate);
    this.signals.off('SIGHUP', this.onHangUp);
  }

  private onSignal(reason: Reason): void {
    this.count++;
    if (this.count === 1) {
      this.first = reason;
      this.say(this.firstMessage(reason));
      this.engine?.stop(reason);
      this.settle();
    } else if (this.count === 2) {
      this.say(`Abandoning in-flight requests; writing reports (${WORDS[this.first ?? reason].again} to quit without them).`);
      this.engine?.abandonDrain();
    } else process.exit(this.exitCode ?? EXIT.interrupted);
  }

  private firstMessage(reason: Reason): string {
    const words = WORDS[reason];
    const phase = this.engine?.phase;
    if (phase === 'running') return `${words.stopped}: draining in-flight requests, then writing reports (${words.again} to abandon them).`;
    if (phase === 'stopping' || phase === 'done') return `${words.stopped}: the run has ended; writing reports (${words.again} to abandon them).`;
    return `${words.stopped} before the run started: no devices will start; writing empty reports (${words.again} to abandon them).`;
  }

  private say(line: string): void {
    if (!this.quiet) this.output.stderr(line);
  }
}
