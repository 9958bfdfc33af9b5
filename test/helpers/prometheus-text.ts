/**
 * A strict parser for the Prometheus text exposition format (0.0.4), for tests: it rejects what a
 * Prometheus server would, rather than guessing. The npm parsers at hand merge a labelled
 * histogram's series, so they cannot check per-row histograms.
 */

export type FamilyType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly type: FamilyType;
  readonly help: string;
  readonly samples: Sample[];
}

export interface HistogramSeries {
  /** The series' labels, `le` left out. */
  readonly labels: Readonly<Record<string, string>>;
  /** Upper bound (Infinity for `+Inf`) and cumulative count, in ascending order of bound. */
  readonly buckets: readonly (readonly [number, number])[];
  readonly sum: number;
  readonly count: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set<string>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES: Record<FamilyType, readonly string[]> = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

/** A float as Prometheus reads one (Go's ParseFloat): Inf and NaN in any case, which prom-client's `Nan` relies on. */
function parseValue(text: string, where: string): number {
  const special = text.toLowerCase();
  if (special === '+inf' || special === 'inf') return Number.POSITIVE_INFINITY;
  if (special === '-inf') return Number.NEGATIVE_INFINITY;
  if (special === 'nan') return Number.NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`${where}: '${text}' is not a number`);
  return Number(text);
}

/** `{a="x",b="y"}` from the start of `text`: the labels and the rest of the line. */
function parseLabels(text: string, where: string): [Record<string, string>, string] {
  const labels: Record<string, string> = {};
  let rest = text.slice(1);
  for (;;) {
    rest = rest.trimStart();
    if (rest.startsWith('}')) return [labels, rest.slice(1)];
    const name = LABEL_NAME.exec(rest)?.[0];
    if (!name) throw new Error(`${where}: expected a label name at '${rest}'`);
    rest = rest.slice(name.length).trimStart();
    if (!rest.startsWith('="')) throw new Error(`${where}: expected =" after label ${name}`);
    rest = rest.slice(2);
    let value = '';
    for (;;) {
      const c = rest[0];
      if (c === undefined) throw new Error(`${where}: unterminated value of label ${name}`);
      rest = rest.slice(1);
      if (c === '"') break;
      if (c !== '\\') {
        value += c;
        continue;
      }
      const escaped = rest[0];
      rest = rest.slice(1);
      if (escaped === 'n') value += '\n';
      else if (escaped === '\\' || escaped === '"') value += escaped;
      else throw new Error(`${where}: bad escape \\${escaped ?? ''} in label ${name}`);
    }
    if (name in labels) throw new Error(`${where}: label ${name} given twice`);
    labels[name] = value;
    rest = rest.trimStart();
    if (rest.startsWith(',')) rest = rest.slice(1);
    else if (!rest.startsWith('}')) throw new Error(`${where}: expected , or } after label ${name}`);
  }
}

const seriesKey = (name: string, labels: Readonly<Record<string, string>>): string =>
  `${name}{${Object.keys(labels)
    .sort()
    .map((key) => `${key}=${JSON.stringify(labels[key])}`)
    .join(',')}}`;

interface OpenFamily extends Family {
  type: FamilyType;
  help: string;
  typed: boolean;
}

/** Every family by name. Throws, naming the line, on anything malformed, misplaced or duplicated. */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, OpenFamily>();
  const series = new Set<string>();
  let current: OpenFamily | undefined;
  // A family's lines must be contiguous: a name seen before, under another family since, is an error.
  const open = (name: string, where: string): OpenFamily => {
    const existing = families.get(name);
    if (existing) {
      if (existing !== current) throw new Error(`${where}: the lines of ${name} are not contiguous`);
      return existing;
    }
    const family: OpenFamily = { name, type: 'untyped', help: '', samples: [], typed: false };
    families.set(name, family);
    current = family;
    return family;
  };
  const lines = text.split('\n');
  if (lines.at(-1) !== '') throw new Error('the exposition must end with a newline');
  lines.forEach((line, index) => {
    const where = `line ${index + 1}`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const match = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (!match) return; // a plain comment
      const [, keyword, name = '', rest = ''] = match;
      if (NAME.exec(name)?.[0] !== name) throw new Error(`${where}: bad metric name '${name}'`);
      const family = open(name, where);
      if (keyword === 'TYPE') {
        if (!TYPES.has(rest.trim())) throw new Error(`${where}: unknown type '${rest}'`);
        if (family.typed || family.samples.length > 0) throw new Error(`${where}: TYPE for ${name} twice or after its samples`);
        family.type = rest.trim() as FamilyType;
        family.typed = true;
      } else {
        if (family.help) throw new Error(`${where}: HELP for ${name} twice`);
        family.help = rest.replace(/\\(n|\\)/g, (_, escaped: string) => (escaped === 'n' ? '\n' : '\\'));
      }
      return;
    }
    const name = NAME.exec(line)?.[0];
    if (!name) throw new Error(`${where}: expected a metric name at '${line}'`);
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) [labels, rest] = parseLabels(rest, where);
    const fields = rest.trim().split(/\s+/);
    if (fields.length > 2 || fields[0] === '') throw new Error(`${where}: expected a value and an optional timestamp after ${name}`);
    const value = parseValue(fields[0] as string, where);
    if (fields[1] !== undefined && !/^-?\d+$/.test(fields[1])) throw new Error(`${where}: bad timestamp '${fields[1]}'`);
    const key = seriesKey(name, labels);
    if (series.has(key)) throw new Error(`${where}: series ${key} given twice`);
    series.add(key);
    const owner = current;
    const family = owner && SUFFIXES[owner.type].some((suffix) => name === `${owner.name}${suffix}`) ? owner : open(name, where);
    family.samples.push({ name, labels, value });
  });
  return families;
}

/**
 * A histogram family's series, each checked as Prometheus requires: an `le` on every bucket, a
 * `+Inf` bucket equal to `_count`, cumulative counts that never decrease, and a `_sum`.
 */
export function histogramSeries(family: Family): HistogramSeries[] {
  if (family.type !== 'histogram') throw new Error(`${family.name} is a ${family.type}, not a histogram`);
  const byLabels = new Map<string, { labels: Record<string, string>; buckets: [number, number][]; sum?: number; count?: number }>();
  for (const sample of family.samples) {
    const { le, ...labels } = sample.labels;
    const key = seriesKey('', labels);
    let entry = byLabels.get(key);
    if (!entry) {
      entry = { labels, buckets: [] };
      byLabels.set(key, entry);
    }
    if (sample.name === `${family.name}_bucket`) {
      if (le === undefined) throw new Error(`${key}: a bucket without le`);
      entry.buckets.push([parseValue(le, `${key} le`), sample.value]);
    } else if (le !== undefined) throw new Error(`${key}: le on ${sample.name}`);
    else if (sample.name === `${family.name}_sum`) entry.sum = sample.value;
    else entry.count = sample.value;
  }
  return [...byLabels.entries()].map(([key, entry]) => {
    const buckets = entry.buckets.sort((a, b) => a[0] - b[0]);
    const inf = buckets.at(-1);
    if (inf?.[0] !== Number.POSITIVE_INFINITY) throw new Error(`${key}: no +Inf bucket`);
    if (entry.count === undefined || entry.sum === undefined) throw new Error(`${key}: _count or _sum missing`);
    if (inf[1] !== entry.count) throw new Error(`${key}: +Inf bucket ${inf[1]} differs from _count ${entry.count}`);
    buckets.forEach(([bound, count], i) => {
      const before = buckets[i - 1];
      if (before && count < before[1]) throw new Error(`${key}: bucket le=${bound} (${count}) below le=${before[0]} (${before[1]})`);
    });
    return { labels: entry.labels, buckets, sum: entry.sum, count: entry.count };
  });
}

/** The one sample of `family` whose labels include `labels`, or an error naming what was looked for. */
export function sampleOf(families: Map<string, Family>, family: string, labels: Readonly<Record<string, string>> = {}): Sample {
  const found = families.get(family)?.samples.filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels[key] === value)) ?? [];
  if (found.length !== 1) throw new Error(`expected one ${family} sample with ${JSON.stringify(labels)}, found ${found.length}`);
  return found[0] as Sample;
}
