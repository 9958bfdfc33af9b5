import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { EventLoopUtilization, IntervalHistogram } from 'node:perf_hooks';
import type { IntervalHealth } from './history.ts';
import type { GeneratorHealth } from '../contracts/health.ts';
export type { GeneratorHealth } from '../contracts/health.ts';

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

/**
 * Time the main thread spent runnable but waiting for a CPU (the scheduler's run-queue delay), in
 * µs, from `/proc/self/task/PID/schedstat`; undefined where the kernel does not keep it. This is
 * the direct measure of "fleetsim was ready to run but the machine gave the CPU to someone else".
 */
export function mainThreadRunDelayMicros(): number | undefined {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').trim().split(' ');
    const waitNs = Number(fields[1]);
    return Number.isFinite(waitNs) ? waitNs / 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** The machine's CPU time by kind, in ticks summed over every core, from the first line of `/proc/stat`. */
export interface MachineCpu {
  readonly busy: number;
  readonly steal: number;
  readonly total: number;
}

export function machineCpu(): MachineCpu | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').slice(0, 256).split('\n')[0] ?? '';
    const [label, ...rest] = line.trim().split(/\s+/);
    if (label !== 'cpu') return undefined;
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = rest.map(Number);
    // guest time is already inside user and nice.
    const busy = user + nice + system + irq + softirq;
    return { busy, steal, total: busy + idle + iowait + steal };
  } catch {
    return undefined;
  }
}

/** This process's CPU in the same ticks as /proc/stat. */
function processCpuTicks(): number | undefined {
  const micros = procCpuMicros('/proc/self/stat');
  return micros === undefined ? undefined : micros / TICK_MICROS;
}

/**
 * What the rest of the machine did over an interval: the share of the machine's CPU that other
 * processes used, the share stolen by a hypervisor, and the share of the interval the main thread
 * waited in the run queue. Read from /proc on Linux; each is undefined where it cannot be.
 */
export interface HostReading {
  readonly runQueuePercent?: number;
  readonly otherCpuPercent?: number;
  readonly stealPercent?: number;
}

/** Takes a host reading from one call to the next. */
export class HostSampler {
  private runDelay = mainThreadRunDelayMicros();
  private machine = machineCpu();
  private ownTicks = processCpuTicks();
  private wall = process.hrtime.bigint();

  reset(): void {
    this.runDelay = mainThreadRunDelayMicros();
    this.machine = machineCpu();
    this.ownTicks = processCpuTicks();
    this.wall = process.hrtime.bigint();
  }

  /** Since the last reset or sample; `advance` false leaves the starting point where it is (a whole run's reading). */
  sample(advance = true): HostReading {
    const runDelay = mainThreadRunDelayMicros();
    const machine = machineCpu();
    const ownTicks = processCpuTicks();
    const wall = process.hrtime.bigint();
    const wallMicros = Number(wall - this.wall) / 1000;
    const reading: { runQueuePercent?: number; otherCpuPercent?: number; stealPercent?: number } = {};
    if (runDelay !== undefined && this.runDelay !== undefined && wallMicros > 0) reading.runQueuePercent = round1(Math.min(100, ((runDelay - this.runDelay) / wallMicros) * 100));
    if (machine && this.machine && machine.total > this.machine.total) {
      const total = machine.total - this.machine.total;
      const own = ownTicks !== undefined && this.ownTicks !== undefined ? ownTicks - this.ownTicks : 0;
      reading.otherCpuPercent = round1(Math.max(0, Math.min(100, ((machine.busy - this.machine.busy - own) / total) * 100)));
      reading.stealPercent = round1(((machine.steal - this.machine.steal) / total) * 100);
    }
    if (advance) {
      this.runDelay = runDelay;
      this.machine = machine;
      this.ownTicks = ownTicks;
      this.wall = wall;
    }
    return reading;
  }
}

const round1 = (value: number): number => Math.round(value * 10) / 10;

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
  private readonly runHost = new HostSampler();
  private readonly intervalHost = new HostSampler();

  start(): void {
    this.runHost.reset();
    this.intervalHost.reset();
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

  /**
   * The generator's health since the previous call (or the start), and a fresh interval from here.
   * `timerLateMs` is how late the caller's own interval timer ran: a loop starved for seconds takes
   * few lag samples (the sampler's timer starves too), so the lag reported is at least that delay.
   */
  sampleInterval(timerLateMs = 0): IntervalHealth {
    const loop = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(loop, this.intervalLoop).utilization;
    const wall = process.hrtime.bigint();
    const wallMicros = Number(wall - this.intervalWall) / 1000;
    const thread = mainThreadCpuMicros();
    const cpu = thread !== undefined && this.intervalThread !== undefined && wallMicros > 0 ? Math.round(((thread - this.intervalThread) / wallMicros) * 1000) / 10 : undefined;
    const sampled = this.intervalLag.count > 0 ? Math.max(0, this.intervalLag.percentile(99) / 1e6 - LAG_RESOLUTION_MS) : 0;
    const lag = Math.max(sampled, timerLateMs);
    this.intervalLag.reset();
    const host = this.intervalHost.sample();
    this.intervalLoop = loop;
    this.intervalThread = thread;
    this.intervalWall = wall;
    return { busyPercent: Math.round(busy * 1000) / 10, lagP99Ms: Math.round(lag * 100) / 100, ...(cpu === undefined ? {} : { cpuPercent: cpu }), ...host };
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
      ...this.runHost.sample(false),
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
  // Lag while fleetsim waited in the run queue is the machine's doing: fewer devices would not help.
  if ((health.runQueuePercent ?? 0) >= HOST_STARVED_RUN_QUEUE_PERCENT) {
    const other = health.otherCpuPercent === undefined ? '' : `; other processes used ${health.otherCpuPercent}% of the machine's CPU`;
    return `the machine held fleetsim back (${reasons.join(', ')}, while it waited for a CPU ${health.runQueuePercent}% of the run${other}): latencies include that delay and rates may be the machine's limit, not the target's; run on a quieter machine or pin fleetsim and the target to different cores`;
  }
  return `the load generator was saturated (${reasons.join(', ')}): latencies include its own delay and rates may be its ceiling, not the target's; run fewer devices or a lower rate per process`;
}

/** Waiting for a CPU this share of the run means the machine, not fleetsim's own work, was the limit. */
const HOST_STARVED_RUN_QUEUE_PERCENT = 20;
