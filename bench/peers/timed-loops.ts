/**
 * Runs `count` concurrent loops of `step` for `seconds` and prints one JSON line with what they did,
 * the process CPU it took and the max RSS: the shape every peer reports in.
 */
export async function runTimedLoops(count: number, seconds: number, step: (loop: number) => Promise<number>): Promise<void> {
  let done = 0;
  let running = true;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  setTimeout(() => (running = false), seconds * 1000);
  await Promise.all(
    Array.from({ length: count }, async (_, loop) => {
      while (running) {
        // Not `done += await …`: that reads `done` before the await and loses the other loops' counts.
        const finished = await step(loop);
        done += finished;
      }
    }),
  );
  printPeerResult(done, (performance.now() - started) / 1000, cpuBefore);
}

/** The one JSON line every peer prints: what it did, in how long, the CPU since `cpuBefore`, and max RSS. */
export function printPeerResult(messages: number, seconds: number, cpuBefore: NodeJS.CpuUsage): void {
  const cpu = process.cpuUsage(cpuBefore);
  console.log(JSON.stringify({ messages, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
}
