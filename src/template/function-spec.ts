import type { CompiledValue } from './context.ts';

export type Literal = string | number | boolean;

/** What a template may reach beyond the device while a device model is being compiled. */
export interface SlotAllocator {
  /** Allocates a per-device random-walk slot: a number each device keeps, starting at a seeded point of [min, max]. */
  allocateWalk(min: number, max: number): number;
  /** The value of environment variable `name`, read once at load; throws when it is not set. */
  environment(name: string): string;
  /** The per-device variable slot a task captures into; throws when no task captures `name`. */
  variable(name: string): number;
  /** The slot of a column of the device's data row (`{{ data.NAME }}`); the profile's data file must have it. */
  data(name: string): number;
  /** Where files a template names (routes, keys) are found: the device model's directory. */
  readonly directory?: string;
}

/**
 * One argument of a call: a literal (known when the template compiles), or a field or nested call
 * evaluated per message. `literal` is set for literals and `env.NAME`, which is read at load.
 */
export interface Argument {
  readonly literal: Literal | undefined;
  readonly evaluate: CompiledValue;
  /** The argument's text, for error messages and request-log placeholders. */
  readonly source: string;
}

/** A call being compiled: its whole text (`jwt('RS256', data.key, device.id)`), as the request log shows a secret it made. */
export interface CallSite {
  readonly source: string;
}

export interface FunctionSpec {
  readonly signature: string;
  readonly minArgs: number;
  readonly maxArgs: number;
  readonly build: (args: readonly Argument[], slots: SlotAllocator, call: CallSite) => CompiledValue;
}
