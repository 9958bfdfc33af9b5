import type { FunctionSpec } from '../function-spec.ts';
import { ANOMALY_FUNCTIONS } from './anomaly.ts';
import { COUNTER_FUNCTIONS } from './counters.ts';
import { CYCLE_FUNCTIONS } from './cycles.ts';
import { ROUTE_FUNCTIONS } from './route.ts';

/** Believable telemetry: cycles, correlated channels, routes, counters, state machines and injected anomalies. */
export const GENERATOR_FUNCTIONS: readonly (readonly [string, FunctionSpec])[] = [...CYCLE_FUNCTIONS, ...ROUTE_FUNCTIONS, ...COUNTER_FUNCTIONS, ...ANOMALY_FUNCTIONS];
