/** The generator's own health over one interval: what says whether that interval's numbers are the target's. */
export interface IntervalHealth {
  /** Share of the interval the event loop spent running callbacks (event-loop utilisation), in percent. */
  readonly busyPercent: number;
  /** Event-loop delay p99 over the interval, beyond the monitor's own sampling resolution. */
  readonly lagP99Ms: number;
  /** Main-thread CPU over the interval as a percentage of one core, where the OS says. */
  readonly cpuPercent?: number;
  /** Share of the interval the main thread was runnable but waited for a CPU (another process had it). */
  readonly runQueuePercent?: number;
  /** Share of the machine's CPU that other processes used over the interval. */
  readonly otherCpuPercent?: number;
  /** Share of the machine's CPU stolen by a hypervisor over the interval. */
  readonly stealPercent?: number;
}

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
  /** Share of the run the main thread was ready to run but waited for a CPU (Linux schedstat). */
  readonly runQueuePercent?: number;
  /** Share of the machine's CPU (all cores) that other processes used during the run. */
  readonly otherCpuPercent?: number;
  /** Share of the machine's CPU a hypervisor took (steal). */
  readonly stealPercent?: number;
}

/** When an interval counts as saturated (`results.saturation.limits`): the generator's loop at least this busy, or this late. */
export interface SaturationLimits {
  readonly busyPercent: number;
  readonly lagP99Ms: number;
}
