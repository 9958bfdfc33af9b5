import { readFileSync } from 'node:fs';
import type { Results } from '../src/metrics/results.ts';

/** One fleetsim shard process of bench:sessions, as it ended. */
export interface ShardRun {
  readonly index: number;
  readonly code: number;
  readonly stderr: string;
  readonly results: Results | undefined;
}

/** The machine's memory available to new work (MemAvailable), in MB. */
export function availableMb(): number {
  const match = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

function portRange(): number {
  const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  return (high ?? 60999) - (low ?? 32768) + 1;
}

/** Rough costs for the memory check: what a session took in earlier runs, on both sides, and a process's base. */
const FLEETSIM_KB_PER_SESSION = 10;
const MOSQUITTO_KB_PER_SESSION = 5;
const PROCESS_BASE_MB = 120;

/**
 * What the plan needs of this machine, checked before starting: file descriptors per fleetsim
 * process and per broker, source ports per address, memory. The first that does not fit, said with
 * the measurement, or undefined when all do.
 */
export function preflight(plan: { sessions: number; processes: number; brokers: number; addresses: number; fileLimit: number }): string | undefined {
  const perProcess = Math.ceil(plan.sessions / plan.processes);
  if (perProcess + 200 > plan.fileLimit)
    return `file descriptors: ${perProcess} sessions per fleetsim process need ~${perProcess + 200}, the limit is ${plan.fileLimit} (ulimit -n): use at least ${Math.ceil(plan.sessions / (plan.fileLimit - 200))} processes`;
  const perBroker = Math.ceil(plan.sessions / plan.brokers);
  if (perBroker + 100 > plan.fileLimit)
    return `file descriptors: ${perBroker} sessions per Mosquitto need ~${perBroker + 100}, its limit is ${plan.fileLimit}: use at least ${Math.ceil(plan.sessions / (plan.fileLimit - 100))} brokers`;
  // bind() before connect() picks from half the range, and its search slows as that half fills: a quarter is the ceiling here.
  const ports = portRange();
  const perAddress = Math.ceil(plan.sessions / plan.addresses);
  if (perAddress > ports / 8)
    return `source ports: ${perAddress} sessions per source address, where a bound socket picks from half of ${ports} ephemeral ports (net.ipv4.ip_local_port_range) and the search stalls the event loop once that half is a quarter full: use at least ${Math.ceil(plan.sessions / (ports / 8))} addresses`;
  const needMb = (plan.sessions * (FLEETSIM_KB_PER_SESSION + MOSQUITTO_KB_PER_SESSION)) / 1024 + (plan.processes + 1) * PROCESS_BASE_MB;
  const available = availableMb();
  if (needMb > available * 0.9)
    return `memory: about ${needMb.toFixed(0)} MB needed (${FLEETSIM_KB_PER_SESSION} KB per session in fleetsim, ${MOSQUITTO_KB_PER_SESSION} in Mosquitto, ${PROCESS_BASE_MB} MB per process), ${available.toFixed(0)} MB available`;
  return undefined;
}

/** What the brokers' logs say they did to sessions: dropped for keepalive, refused for max_connections, out of files. */
export function brokerLogCounts(logs: readonly string[]): { keepalive: number; maxConnections: number; files: number } {
  const count = (pattern: RegExp): number => logs.reduce((sum, log) => sum + (log.match(pattern)?.length ?? 0), 0);
  return { keepalive: count(/exceeded timeout/g), maxConnections: count(/max_connections/g), files: count(/Too many open files/g) };
}

/** Samples the machine's available memory every second while a run goes, keeping the lowest. */
export class MemorySampler {
  lowestAvailableMb = Number.POSITIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), 1000);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private sample(): void {
    this.lowestAvailableMb = Math.min(this.lowestAvailableMb, availableMb());
  }
}

/** The failures the shards counted whose reason matches `pattern`. */
function failuresMatching(runs: readonly ShardRun[], pattern: RegExp): number {
  return runs.reduce((sum, run) => sum + (run.results?.failures ?? []).filter((failure) => pattern.test(failure.error)).reduce((total, failure) => total + failure.count, 0), 0);
}

/** Whether the goal was met, and if not, each resource that ran out, with its measurement. */
export function diagnose(run: {
  sessions: number;
  online: number;
  lost: number;
  runs: readonly ShardRun[];
  dropped: { keepalive: number; maxConnections: number; files: number };
  lateP99Ms: number;
  maxBusyPercent: number;
  lowestAvailableMb: number;
  perDeviceKb: number;
}): string {
  const causes: string[] = [];
  const died = run.runs.filter((shard) => !shard.results);
  if (died.length > 0)
    causes.push(`${died.length} fleetsim process(es) ended without results (exit ${died.map((shard) => shard.code).join(', ')}${run.lowestAvailableMb < 500 ? '; memory ran low' : ''})`);
  const fds = failuresMatching(run.runs, /EMFILE|ENFILE|too many open files/i);
  if (fds > 0 || run.dropped.files > 0) causes.push(`file descriptors: ${fds} fleetsim attempts failed with EMFILE, brokers logged ${run.dropped.files} accept failures for open files`);
  const ports = failuresMatching(run.runs, /EADDRNOTAVAIL|EADDRINUSE/);
  if (ports > 0) causes.push(`source ports: ${ports} connects failed with EADDRNOTAVAIL/EADDRINUSE`);
  if (run.dropped.maxConnections > 0) causes.push(`broker max_connections: ${run.dropped.maxConnections} connections refused`);
  if (run.dropped.keepalive > 0)
    causes.push(`brokers dropped ${run.dropped.keepalive} sessions for keepalive (fleetsim's keepalive checks ran late p99 ${run.lateP99Ms} ms; a broker allows 1.5 intervals)`);
  const timeouts = failuresMatching(run.runs, /timeout/i);
  if (timeouts > 0) causes.push(`${timeouts} attempts timed out (CONNECTs unanswered in time, or acks late)`);
  if (run.maxBusyPercent >= 90) causes.push(`event loop: a generator's loop was ${run.maxBusyPercent.toFixed(0)}% busy in an interval of the hold (CPU)`);
  if (run.lowestAvailableMb < 500) causes.push(`memory: ${run.lowestAvailableMb.toFixed(0)} MB available at the lowest`);
  const held = run.online === run.sessions && run.lost === 0;
  const memory = run.perDeviceKb <= 8 ? `${run.perDeviceKb.toFixed(2)} KB per device, within 8 KB` : `${run.perDeviceKb.toFixed(2)} KB per device, over 8 KB`;
  if (held) return `held: all ${run.sessions} online, 0 lost; ${memory}${causes.length > 0 ? `; strain seen: ${causes.join('; ')}` : ''}`;
  return `NOT held: ${run.online} of ${run.sessions} online, ${run.lost} lost; ${memory}; ran out: ${causes.length > 0 ? causes.join('; ') : 'nothing this bench measures (see the processes above)'}`;
}
