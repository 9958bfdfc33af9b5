import { buildResults } from '../../src/metrics/results.ts';
import type { ResultsInput } from '../../src/metrics/results.ts';
import type { RunStats } from '../../src/metrics/stats.ts';

/** The results of `stats` as a 10 s run of one device would give them, with `input` over those defaults. */
export function resultsOfStats(stats: RunStats, input: Partial<ResultsInput> = {}): ReturnType<typeof buildResults> {
  return buildResults({
    version: '1',
    seed: '1',
    profilePath: 'p.yaml',
    profileSha256: '',
    startedAt: new Date('2026-01-01T00:00:00Z'),
    endedAt: new Date('2026-01-01T00:00:10Z'),
    stopReason: 'duration',
    devices: { target: 1, started: 1, online: 1 },
    entries: stats.entries,
    history: stats.history.points,
    saturation: stats.saturation,
    generator: { cpuPercent: 1, maxRssBytes: 1, eventLoopLagP99Ms: 1 },
    warnings: [],
    ...input,
  });
}
