/**
 * The largest values a profile (or a flag) may ask for, stated in the schema so an editor shows
 * them too. Past them a run cannot work (arrays the size of the fleet, timers), so they are
 * refused at load with the field's line, rather than failing mid-run.
 */

/** Devices in one process's fleet (every entry's count together, and each stage's). */
export const MAX_DEVICES = 1_000_000;
/** Devices started per second. */
export const MAX_SPAWN_RATE = 1_000_000;
/** Repeats of a step, iterations of a device, pick weights, token-bucket rates. */
export const MAX_COUNT = 1_000_000_000;
/** Connections of the shared HTTP pool. */
export const MAX_CONNECTIONS = 100_000;
