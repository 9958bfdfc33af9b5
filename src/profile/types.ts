import type { IdentityScheme } from '../identity/device-id.ts';
import type { CompiledTemplate, JsonBodyRenderer } from '../template/compile.ts';

/** How long a device waits between tasks (Locust's wait_time). */
export type WaitModel =
  | { readonly model: 'constant'; readonly timeMs: number }
  | { readonly model: 'between'; readonly minMs: number; readonly maxMs: number }
  /** Start a task every interval, whatever the task took (Locust's constant_pacing). */
  | { readonly model: 'pacing'; readonly intervalMs: number }
  /** Tasks per second per device (Locust's constant_throughput). */
  | { readonly model: 'throughput'; readonly perSecond: number };

export interface HttpAction {
  readonly kind: 'http';
  readonly method: string;
  readonly path: CompiledTemplate;
  readonly headers: readonly (readonly [string, CompiledTemplate])[];
  readonly body: JsonBodyRenderer | undefined;
  readonly contentType: string | undefined;
  readonly timeoutMs: number;
  /** Statuses that count as success; undefined means any 2xx. */
  readonly expectStatus: ReadonlySet<number> | undefined;
}

export type TaskAction = HttpAction;

/** Takes one value out of a JSON response into a per-device variable (`{{ vars.NAME }}`). */
export interface Capture {
  readonly variable: string;
  readonly slot: number;
  /** `$.access`, `$.items[0].id`, as written. */
  readonly expression: string;
  readonly path: readonly (string | number)[];
}

/** One request of a task, possibly repeated, with a pause after each attempt. */
export interface StepSpec {
  /** The grouping name in stats (Locust's `name=`). */
  readonly name: string;
  readonly action: TaskAction;
  readonly repeat: number;
  /** Pause after each attempt before the next one of the task (Locust's time.sleep inside a task). */
  readonly sleepMs: number;
  readonly captures: readonly Capture[];
}

export interface TaskSpec {
  readonly name: string;
  readonly weight: number;
  /** Run in order; the wait model applies between tasks, not between steps. */
  readonly steps: readonly StepSpec[];
}

export interface DeviceModel {
  readonly name: string;
  readonly file: string;
  readonly identity: IdentityScheme;
  readonly boot: readonly TaskSpec[];
  readonly tasks: readonly TaskSpec[];
  readonly cumulativeWeights: Float64Array;
  readonly wait: WaitModel;
  /** Starting points of each random walk slot, as (min, max) pairs; the start is seeded per device. */
  readonly walkRanges: readonly (readonly [number, number])[];
  /** Names of the captured variables, by slot. */
  readonly variables: readonly string[];
}

/** An environment value a template used: sent, but never written to logs or reports. */
export interface Secret {
  readonly name: string;
  readonly value: string;
}

export interface FleetEntry {
  readonly model: DeviceModel;
  readonly count: number;
}

export interface HttpSettings {
  /** Connections per origin in the shared pool. */
  readonly connections: number;
  /** Give every device its own keep-alive connection, as real devices have. */
  readonly connectionPerDevice: boolean;
  readonly timeoutMs: number;
  readonly tls: TlsSettings | undefined;
}

export interface TlsSettings {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** False only when the profile says `insecure: true`. */
  readonly rejectUnauthorized: boolean;
}

/** A validated run: every field resolved, every template compiled; the engine needs nothing else. */
export interface RunPlan {
  readonly profilePath: string;
  readonly profileSha256: string;
  readonly name: string;
  readonly seed: string;
  readonly target: string | undefined;
  readonly fleet: readonly FleetEntry[];
  readonly devices: number;
  readonly spawnRate: number;
  readonly durationMs: number | undefined;
  readonly iterations: number | undefined;
  readonly drainTimeoutMs: number;
  readonly http: HttpSettings;
  readonly thresholds: readonly string[];
  /** Environment values the templates read, so outputs can redact them. */
  readonly secrets: readonly Secret[];
}
