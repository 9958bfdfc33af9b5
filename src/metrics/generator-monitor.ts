import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { IntervalHistogram } from 'node:perf_hooks';

export interface GeneratorHealth {
  /** CPU time of this process over the run, as a percentage of one core. */
  readonly cpuPercent: number;
  readonly maxRssBytes: number;
  readonly eventLoopLagP99Ms: number;
}

const LAG_RESOLUTION_MS = 10;

/** Beyond these the generator, not the target, is likely what the numbers measure. */
export const SATURATION = { cpuPercent: 90, eventLoopLagP99Ms: 50 } as const;

/** Watches the load generator itself: event-loop lag and CPU say whether the results are trustworthy. */
export class GeneratorMonitor {
  private readonly lag: IntervalHistogram = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  private cpuStart: NodeJS.CpuUsage = process.cpuUsage();
  private wallStart = process.hrtime.bigint();

  start(): void {
    this.cpuStart = process.cpuUsage();
    this.wallStart = process.hrtime.bigint();
    this.lag.enable();
  }

  read(): GeneratorHealth {
    const cpu = process.cpuUsage(this.cpuStart);
    const wallMicros = Number(process.hrtime.bigint() - this.wallStart) / 1000;
    const cpuPercent = wallMicros > 0 ? ((cpu.user + cpu.system) / wallMicros) * 100 : 0;
    // The monitor's samples include its own sampling interval; only the excess is lag.
    const lagP99 = this.lag.count > 0 ? Math.max(0, this.lag.percentile(99) / 1e6 - LAG_RESOLUTION_MS) : 0;
    return {
      cpuPercent: Math.round(cpuPercent * 10) / 10,
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      eventLoopLagP99Ms: Math.round(lagP99 * 100) / 100,
    };
  }

  stop(): GeneratorHealth {
    const health = this.read();
    this.lag.disable();
    return health;
  }
}

export function saturationWarning(health: GeneratorHealth): string | undefined {
  const reasons: string[] = [];
  if (health.cpuPercent >= SATURATION.cpuPercent) reasons.push(`CPU at ${health.cpuPercent}% of a core`);
  if (health.eventLoopLagP99Ms >= SATURATION.eventLoopLagP99Ms) reasons.push(`event-loop lag p99 ${health.eventLoopLagP99Ms} ms`);
  if (reasons.length === 0) return undefined;
  return `the load generator was saturated (${reasons.join(', ')}): latencies include its own delay; use fewer devices per process, --workers, or shards`;
}
