import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { compileJsonBody, compileTemplate } from '../../../src/template/compile.ts';
import type { TemplateContext } from '../../../src/template/context.ts';
import { takeAnomalies } from '../../../src/template/generators/anomaly-labels.ts';
import { testDevice, TestSlots } from '../../helpers/template-slots.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'fleetsim-generators-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Renders `count` messages of a JSON document for one device, one seq each, as the engine does. */
function messages(json: unknown, count: number, seed = '11', index = 0, slots = new TestSlots(dir)): { bodies: Record<string, unknown>[]; device: TemplateContext } {
  const render = compileJsonBody(json, (leaf) => compileTemplate(leaf.text, slots));
  const device = testDevice(slots, seed, index);
  const bodies: Record<string, unknown>[] = [];
  for (let seq = 0; seq < count; seq++) {
    device.seq = seq;
    bodies.push(JSON.parse(render(device)) as Record<string, unknown>);
  }
  return { bodies, device };
}

// Metres per degree of latitude, and a local equirectangular projection for distances to a segment.
const R = 6_371_008.8;
const rad = Math.PI / 180;
function toXY(lat: number, lon: number, lat0: number): [number, number] {
  return [lon * rad * R * Math.cos(lat0 * rad), lat * rad * R];
}
function distanceToSegment(p: [number, number], a: [number, number], b: [number, number]): number {
  const [dx, dy] = [b[0] - a[0], b[1] - a[1]];
  const t = Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy));
}

describe('route()', () => {
  // A 3-vertex road through Lyon, about 2.3 km, with a bend.
  const line: [number, number][] = [
    [4.832, 45.7578],
    [4.842, 45.76],
    [4.85, 45.77],
  ];
  writeFileSync(path.join(dir, 'road.geojson'), JSON.stringify({ type: 'FeatureCollection', features: [{ type: 'Feature', properties: {}, geometry: { type: 'LineString', coordinates: line } }] }));
  const lat0 = 45.76;
  const vertices = line.map(([lon, lat]) => toXY(lat, lon, lat0));
  const distanceToLine = (lat: number, lon: number): number => Math.min(...vertices.slice(1).map((b, i) => distanceToSegment(toXY(lat, lon, lat0), vertices[i] as [number, number], b)));
  /** Where a point is along the line, in metres, by projecting onto its nearest segment. */
  const along = (lat: number, lon: number): number => {
    const p = toXY(lat, lon, lat0);
    let best = { d: Infinity, s: 0 };
    let start = 0;
    for (let i = 1; i < vertices.length; i++) {
      const a = vertices[i - 1] as [number, number];
      const b = vertices[i] as [number, number];
      const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
      const t = Math.max(0, Math.min(1, ((p[0] - a[0]) * (b[0] - a[0]) + (p[1] - a[1]) * (b[1] - a[1])) / (len * len)));
      const d = distanceToSegment(p, a, b);
      if (d < best.d) best = { d, s: start + t * len };
      start += len;
    }
    return best.s;
  };

  test('positions stay within 1 m of the line and advance at the declared speed, turning back at the ends', () => {
    const json = { lat: "{{ route('road.geojson', 36, '5s') }}", lon: "{{ route('road.geojson', 36, '5s', 'lon') }}", heading: "{{ route('road.geojson', 36, '5s', 'heading') }}" };
    // 36 km/h for 5 s a message: 50 m a message.
    for (const index of [0, 1, 2, 3]) {
      const { bodies } = messages(json, 120, '11', index);
      let turns = 0;
      for (let i = 0; i < bodies.length; i++) {
        const { lat, lon } = bodies[i] as { lat: number; lon: number };
        assert.ok(distanceToLine(lat, lon) < 1, `device ${index} message ${i} is ${distanceToLine(lat, lon).toFixed(2)} m off the line`);
        if (i === 0) continue;
        const prev = bodies[i - 1] as { lat: number; lon: number; heading: number };
        const moved = Math.abs(along(lat, lon) - along(prev.lat, prev.lon));
        // Along the line; a message that turned at an end travels there and back (less net distance).
        if (Math.abs(moved - 50) > 0.5) {
          turns++;
          assert.ok(moved < 50, `device ${index} message ${i} moved ${moved.toFixed(2)} m`);
        }
      }
      // 120 messages × 50 m = 6 km on a 2.3 km road: it turns two or three times.
      assert.ok(turns >= 2 && turns <= 3, `device ${index} turned ${turns} times`);
    }
  });

  test('each device starts at its own seeded point; the same (seed, device) repeats exactly', () => {
    const json = { lat: "{{ route('road.geojson', 50, '10s') }}", lon: "{{ route('road.geojson', 50, '10s', 'lon') }}" };
    const starts = new Set([0, 1, 2, 3, 4].map((index) => JSON.stringify(messages(json, 1, '11', index).bodies[0])));
    assert.equal(starts.size, 5);
    assert.deepEqual(messages(json, 30, '11', 2).bodies, messages(json, 30, '11', 2).bodies);
    assert.notDeepEqual(messages(json, 30, '12', 2).bodies, messages(json, 30, '11', 2).bodies);
  });

  test('a file without a LineString, or a bad part, is a load-time error', () => {
    writeFileSync(path.join(dir, 'point.geojson'), JSON.stringify({ type: 'Point', coordinates: [1, 2] }));
    assert.throws(() => compileTemplate("{{ route('point.geojson', 50, '10s') }}", new TestSlots(dir)), /point\.geojson holds no LineString/);
    assert.throws(() => compileTemplate("{{ route('road.geojson', 50, '10s', 'altitude') }}", new TestSlots(dir)), /part must be 'lat', 'lon', 'heading', 'odometer'/);
    assert.throws(() => compileTemplate("{{ route('nowhere.geojson', 50, '10s') }}", new TestSlots(dir)), /cannot read nowhere\.geojson: ENOENT/);
  });
});

describe('cycles and channels', () => {
  test('cycle() peaks at its peak time, and nested cycles add a season to a day', () => {
    // One message an hour: sample 15 is 15:00, the daily peak; sample 3 is 03:00, the trough.
    const { bodies } = messages({ t: "{{ cycle(20, 5, '24h', '15h', '1h') }}" }, 48);
    assert.equal(bodies[15]?.t, 25);
    assert.equal(bodies[39]?.t, 25);
    assert.equal(bodies[3]?.t, 15);
    const seasonal = messages({ t: "{{ cycle(cycle(10, 8, '365d', '200d', '1d'), 5, '24h', '15h', '1d') }}" }, 366).bodies.map((body) => body.t as number);
    // Sampled once a day at midnight, the daily term is constant (-5 × cos(15h)): the season is what moves.
    const daily = 5 * Math.cos((2 * Math.PI * -15) / 24);
    assert.ok(Math.abs((seasonal[200] as number) - (18 + daily)) < 0.01, String(seasonal[200]));
    assert.ok(Math.abs((seasonal[17] as number) - (2 + daily)) < 0.05, String(seasonal[17]));
  });

  test('noise is seeded per device, and a channel followed by correlated() moves with it', () => {
    const json = { temp: "{{ channel('temp', cycle(20, 5, '24h', '15h', '30m', 0.5, 2)) }}", humidity: "{{ correlated('temp', 90, -2, 0, 2) }}" };
    const a = messages(json, 96, '5', 0).bodies;
    assert.deepEqual(a, messages(json, 96, '5', 0).bodies);
    assert.notDeepEqual(a, messages(json, 96, '5', 1).bodies);
    for (const body of a) assert.ok(Math.abs((body.humidity as number) - (90 - 2 * (body.temp as number))) < 1e-9);
    assert.throws(() => compileTemplate("{{ correlated('pressure', 1, 1) }}", new TestSlots()), /no channel 'pressure' before this field/);
  });
});

describe('counters and state machines', () => {
  test('counter() starts once and only counts up, by its steps', () => {
    const { bodies } = messages({ n: '{{ counter(int(1000, 2000), 1, 3) }}', kwh: '{{ counter(0, 0.1, 0.5, 2) }}' }, 200);
    const n = bodies.map((body) => body.n as number);
    assert.ok((n[0] as number) >= 1000 && (n[0] as number) <= 2000);
    for (let i = 1; i < n.length; i++) assert.ok([1, 2, 3].includes((n[i] as number) - (n[i - 1] as number)), `step ${i}`);
    const kwh = bodies.map((body) => body.kwh as number);
    for (let i = 1; i < kwh.length; i++) assert.ok((kwh[i] as number) - (kwh[i - 1] as number) >= 0.1 - 1e-9);
  });

  test('states() dwells in each state for about its mean, seeded per device', () => {
    // A door closed 10 min on average, open 1 min, sampled every 10 s.
    const json = { door: "{{ states('10s', 'closed', '10m', 'open', '1m') }}" };
    const doors = messages(json, 20_000, '3', 0).bodies.map((body) => body.door);
    assert.deepEqual(
      doors.slice(0, 500),
      messages(json, 500, '3', 0).bodies.map((body) => body.door),
    );
    const runs: Record<string, number[]> = { open: [], closed: [] };
    let start = 0;
    for (let i = 1; i <= doors.length; i++) {
      if (i < doors.length && doors[i] === doors[i - 1]) continue;
      if (start > 0 && i < doors.length) (runs[doors[i - 1] as string] as number[]).push((i - start) * 10);
      start = i;
    }
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    // Dwell times are exponential, seen at a 10 s sample: means within 15% over a few hundred cycles.
    assert.ok(Math.abs(mean(runs.closed as number[]) / 600 - 1) < 0.15, `closed ${mean(runs.closed as number[])}`);
    assert.ok(Math.abs(mean(runs.open as number[]) / 65 - 1) < 0.2, `open ${mean(runs.open as number[])}`);
  });
});

describe('anomaly()', () => {
  test('labels name every injected value exactly; samples without a label are the clean value', () => {
    const slots = new TestSlots();
    const json = { t: "{{ anomaly('temp', cycle(20, 5, '24h', '15h', '10m', 0.2, 1), 0.02, 8) }}" };
    const render = compileJsonBody(json, (leaf) => compileTemplate(leaf.text, slots));
    const device = testDevice(slots, '9', 4);
    const kinds = new Map<string, number>();
    for (let seq = 0; seq < 5000; seq++) {
      device.seq = seq;
      const text = render(device);
      const body = JSON.parse(text) as { t: number | null };
      const labels = takeAnomalies(device, seq);
      if (!labels) {
        assert.equal(typeof body.t, 'number', `seq ${seq} has no label but sent ${String(body.t)}`);
        continue;
      }
      assert.equal(labels.length, 1);
      const label = labels[0] as (typeof labels)[number];
      kinds.set(label.kind, (kinds.get(label.kind) ?? 0) + 1);
      // What the log will say: the label's value, serialised, is exactly what the body carries.
      assert.equal(JSON.stringify(label.value), JSON.stringify(body.t), `seq ${seq}`);
      if (label.kind === 'spike') assert.ok(Math.abs(Math.abs(label.value - label.clean) - 8) < 1e-9);
      if (label.kind === 'dropout') assert.equal(body.t, null);
    }
    assert.deepEqual([...kinds.keys()].sort(), ['drift', 'dropout', 'spike', 'stuck']);
  });
});
