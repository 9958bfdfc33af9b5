/**
 * fleetsim as a library. One call runs a profile and returns the results `--json` writes:
 *
 *   import { runProfile } from 'fleetsim';
 *   const results = await runProfile('profiles/iot-node.yaml', { devices: 10, durationMs: 5000 });
 *   console.log(results.total.requests, results.thresholds.every((t) => t.ok));
 *
 * `runPlan(plan, options)` runs a plan from `loadRunPlan` (change it between the two); both start
 * the embedded fixtures when the plan names no target or broker. For finer control, drive the
 * engine yourself:
 *
 *   const plan = await loadRunPlan('profiles/iot-node.yaml', { devices: 10, durationMs: 5000 });
 *   const monitor = new GeneratorMonitor();
 *   const engine = new Engine({ plan, target: 'http://127.0.0.1:8080', generator: monitor });
 *   engine.on('attempt', (record) => ...);   // one per request, publish, connect
 *   let stopReason: StopReason = 'requested';
 *   engine.on('stopping', (reason) => (stopReason = reason));
 *   monitor.start();
 *   const times = await engine.run();
 *   const results = resultsOf({ plan, engine, times, generator: monitor.stop(), stopReason, onlineAtStop: engine.online });
 *
 * `startFixtures()` starts the embedded HTTP fixture and MQTT broker for a self-contained run;
 * `mergeResults` merges the results of a run's shards (`plan.shard`). Every error a caller can act
 * on is a FleetsimError with a stable `code` (docs/library.md lists them).
 */
export { runPlan, runProfile, ReportWriteError } from './run/run-plan.ts';
export type { RunPlanOptions, RunProfileOptions } from './run/run-plan.ts';
export { FleetsimError, ProfileError, UsageError } from './errors.ts';
export type { SourcePosition } from './errors.ts';
export { DataFileError } from './profile/data-file.ts';
export { TemplateError } from './template/compile.ts';
export { ConflictError } from './ui/ui-backend.ts';
export { loadRunPlan } from './run/load-plan.ts';
export { EnvironmentReader } from './profile/load.ts';
export type { RunOverrides } from './profile/load.ts';
export type { RunPlan, Shard } from './profile/types.ts';
export { Engine } from './engine/engine.ts';
export type { EngineOptions, RunTimes } from './engine/engine.ts';
export type { AttemptRecord, EngineEvents, StopReason } from './engine/events.ts';
export { GeneratorMonitor } from './metrics/generator-monitor.ts';
export type { GeneratorHealth } from './metrics/generator-monitor.ts';
export { buildResults } from './metrics/results.ts';
export type { Results, StatsRow, ThresholdResult } from './contracts/results.ts';
export type { HistoryPoint, HistoryRow } from './contracts/history.ts';
export { resultsOf } from './run/run-environment.ts';
export type { FinishedRun } from './run/run-environment.ts';
export { mergeResults, MergeError } from './distributed/merge.ts';
export type { MergedResults, ShardResults } from './distributed/merge.ts';
export { formatSummary } from './report/console.ts';
export { startFixtures } from '../broker-fixture/index.ts';
export type { RunningFixtures } from '../broker-fixture/index.ts';
