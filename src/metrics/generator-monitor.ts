import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { EventLoopUtilization, IntervalHistogram } from 'node:perf_hooks';
import type { IntervalHealth } from './history.ts';

export interface GeneratorHealth {
  /**
   * CPU time of the main thread (the event loop every device runs on) as a percentage of one core:
   * at 100 the generator is the bottleneck. Where the OS cannot say, the whole process.
   */
  readonly cpuPercent: number;
  /** CPU time of the whole process: GC and I/O helper threads, and the embedded fixture's thread when it runs. */
  readonly processCpuPercent?: number;
  readonly maxRssBytes: number;
  readonly eventLoopLagP99Ms: number;
  /**
   * The share of the run the event loop spent running callbacks rather than waiting for I/O. Thread
   * CPU also counts the kernel's work for the sockets (on loopback, part of the target's receive
   * path), so this is the plainer answer to "was the generator busy".
   */
  readonly eventLoopBusyPercent?: number;
}

const LAG_RESOLUTION_MS = 10;

/** Beyond these the generator, not the target, is likely what the numbers measure. */
export const SATURATION = { cpuPercent: 90, eventLoopLagP99Ms: 50 } as const;

/** Linux reports thread times in USER_HZ ticks, which is 100 per second for every user-space interface. */
const TICK_MICROS = 10_000;

/** User + system CPU time in µs from a /proc `stat` file (a process's or one thread's), or undefined off Linux. */
export function procCpuMicros(statFile: string): number | undefined {
  try {
    const stat = readFileSync(statFile, 'utf8');
    // Fields after the parenthesised command name, which may itself contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const user = Number(fields[11]);
    const system = Number(fields[12]);
    return Number.isFinite(user) && Number.isFinite(system) ? (user + system) * TICK_MICROS : undefined;
  } catch {
    return undefined;
  }
}

/** User + system CPU time of the main thread in µs, or undefined off Linux. */
export function mainThreadCpuMicros(): number | undefined {
  return procCpuMicros(`/proc/self/task/${process.pid}/stat`);
}

/** Watches the load generator itself: event-loop lag and CPU say whether the results are trustworthy. */
export class GeneratorMonitor {
  private readonly lag: IntervalHistogram = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  private cpuStart: NodeJS.CpuUsage = process.cpuUsage();
  private mainThreadStart = mainThreadCpuMicros();
  private wallStart = process.hrtime.bigint();
  private loopStart: EventLoopUtilization = performance.eventLoopUtilization();
  /** Per-interval readings, for the history: a second delay histogram reset at every interval. */
  private readonly intervalLag: IntervalHistogram = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  private intervalLoop: EventLoopUtilization = performance.eventLoopUtilization();
  private intervalThread = mainThreadCpuMicros();
  private intervalWall = process.hrtime.bigint();

  start(): void {
    this.loopStart = performance.eventLoopUtilization();
    this.cpuStart = process.cpuUsage();
    this.mainThreadStart = mainThreadCpuMicros();
    this.wallStart = process.hrtime.bigint();
    this.lag.enable();
    this.intervalLoop = this.loopStart;
    this.intervalThread = this.mainThreadStart;
    this.intervalWall = this.wallStart;
    this.intervalLag.enable();
  }

  /** The generator's health since the previous call (or the start), and a fresh interval from here. */
  sampleInterval(): IntervalHealth {
    const loop = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(loop, this.intervalLoop).utilization;
    const wall = process.hrtime.bigint();
    const wallMicros = Number(wall - this.intervalWall) / 1000;
    const thread = mainThreadCpuMicros();
    const cpu = thread !== undefined && this.intervalThread !== undefined && wallMicros > 0 ? Math.round(((thread - this.intervalThread) / wallMicros) * 1000) / 10 : undefined;
    const lag = this.intervalLag.count > 0 ? Math.max(0, this.intervalLag.percentile(99) / 1e6 - LAG_RESOLUTION_MS) : 0;
    this.intervalLag.reset();
    this.intervalLoop = loop;
    this.intervalThread = thread;
    this.intervalWall = wall;
    return { busyPercent: Math.round(busy * 1000) / 10, lagP99Ms: Math.round(lag * 100) / 100, ...(cpu === undefined ? {} : { cpuPercent: cpu }) };
  }

  read(): GeneratorHealth {
    const cpu = process.cpuUsage(this.cpuStart);
    const wallMicros = Number(process.hrtime.bigint() - this.wallStart) / 1000;
    const percentOfWall = (micros: number): number => (wallMicros > 0 ? Math.round((micros / wallMicros) * 1000) / 10 : 0);
    const processCpuPercent = percentOfWall(cpu.user + cpu.system);
    const mainThreadNow = mainThreadCpuMicros();
    const mainThread = mainThreadNow !== undefined && this.mainThreadStart !== undefined ? percentOfWall(mainThreadNow - this.mainThreadStart) : undefined;
    // The monitor's samples include its own sampling interval; only the excess is lag.
    const lagP99 = this.lag.count > 0 ? Math.max(0, this.lag.percentile(99) / 1e6 - LAG_RESOLUTION_MS) : 0;
    return {
      cpuPercent: mainThread ?? processCpuPercent,
      processCpuPercent,
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      eventLoopLagP99Ms: Math.round(lagP99 * 100) / 100,
      eventLoopBusyPercent: Math.round(performance.eventLoopUtilization(this.loopStart).utilization * 1000) / 10,
    };
  }

  stop(): GeneratorHealth {
    const health = this.read();
    this.lag.disable();
    this.intervalLag.disable();
    return health;
  }
}

export function saturationWarning(health: GeneratorHealth): string | undefined {
  const reasons: string[] = [];
  if (health.cpuPercent >= SATURATION.cpuPercent) reasons.push(`main thread CPU at ${health.cpuPercent}% of a core`);
  if (health.eventLoopLagP99Ms >= SATURATION.eventLoopLagP99Ms) reasons.push(`event-loop lag p99 ${health.eventLoopLagP99Ms} ms`);
  if (reasons.length === 0) return undefined;
  return `the load generator was saturated (${reasons.join(', ')}): latencies include its own delay and rates may be its ceiling, not the target's; run fewer devices or a lower rate per process`;
}
