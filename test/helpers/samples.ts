import seedrandom from 'seedrandom';

/** Reproducible latencies in µs: row r's spread grows with r, with a long tail. */
export function seededSamples(seed: number): (row: number) => number {
  const random = seedrandom.alea(String(seed));
  return (row) => {
    const base = 500 + row * 2000;
    return Math.round(base + random() * base + (random() < 0.02 ? random() * 200_000 : 0));
  };
}
