import type { SlotAllocator } from './function-spec.ts';

/** Says what is wrong with a data value a function reads, or undefined when it will do. */
export type DataCheck = (value: string) => string | undefined;

const checks = new WeakMap<SlotAllocator, Map<string, DataCheck>>();

/**
 * A function that reads a data column directly (`jwt('RS256', data.key)`) can have every row's
 * value checked when the profile loads, so a bad key stops the run before it starts, naming the row.
 */
export function registerDataCheck(slots: SlotAllocator, column: string, check: DataCheck): void {
  let byColumn = checks.get(slots);
  if (!byColumn) {
    byColumn = new Map();
    checks.set(slots, byColumn);
  }
  byColumn.set(column, check);
}

export function dataChecks(slots: SlotAllocator): ReadonlyMap<string, DataCheck> {
  return checks.get(slots) ?? new Map();
}
