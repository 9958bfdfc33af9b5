import { checkDecimals, numberArg, roundTo, secondsArg, stringArg } from '../arguments.ts';
import type { TemplateContext } from '../context.ts';
import type { FunctionSpec, SlotAllocator } from '../function-spec.ts';
import { bearingDeg, readRoutes, segmentAt } from './geojson-routes.ts';
import type { Route } from './geojson-routes.ts';
import { allocateState, newSample, seededUniform, sharedSlot } from './state.ts';

const PARTS = ['lat', 'lon', 'heading', 'odometer'] as const;
type Part = (typeof PARTS)[number];

/** Block layout: [seq, sample index, route pick, start offset]; the last two are seeded per device. */
const SAMPLE = 1;
const PICK = 2;
const OFFSET = 3;

function allocateVehicle(slots: SlotAllocator): number {
  const base = allocateState(slots, [-1]);
  if (seededUniform(slots) !== base + PICK || seededUniform(slots) !== base + OFFSET) throw new Error('route state slots must be consecutive');
  return base;
}

/**
 * Where a device is on its route at its current sample: it starts at a seeded point of a seeded
 * route and drives at `speed`, turning back at either end, so it never leaves the line. Positions
 * between vertices are interpolated along the straight segment, as GeoJSON draws it.
 */
function position(routes: readonly Route[], walks: readonly number[], base: number, metresPerSample: number, part: Part): number {
  const route = routes[Math.min(routes.length - 1, Math.floor((walks[base + PICK] as number) * routes.length))] as Route;
  const length = route.lengthM;
  const travelled = (walks[base + SAMPLE] as number) * metresPerSample;
  if (part === 'odometer') return travelled / 1000;
  const lap = 2 * length;
  const d = ((walks[base + OFFSET] as number) * lap + travelled) % lap;
  const forward = d <= length;
  const s = forward ? d : lap - d;
  const i = segmentAt(route, s);
  const start = route.along[i] as number;
  const span = (route.along[i + 1] as number) - start;
  const f = span > 0 ? (s - start) / span : 0;
  const lat0 = route.lat[i] as number;
  const lon0 = route.lon[i] as number;
  const lat1 = route.lat[i + 1] as number;
  const lon1 = route.lon[i + 1] as number;
  if (part === 'lat') return lat0 + f * (lat1 - lat0);
  if (part === 'lon') return lon0 + f * (lon1 - lon0);
  const heading = bearingDeg(lat0, lon0, lat1, lon1);
  return forward ? heading : (heading + 180) % 360;
}

export const ROUTE_FUNCTIONS: readonly (readonly [string, FunctionSpec])[] = [
  [
    'route',
    {
      signature: "route(file, speedKmh, step, part = 'lat', decimals = 6)",
      minArgs: 3,
      maxArgs: 5,
      build(args, slots) {
        const file = stringArg(args, 0);
        const speedKmh = numberArg(args, 1);
        const step = secondsArg(args, 2);
        const part = stringArg(args, 3, 'lat');
        const decimals = numberArg(args, 4, part === 'heading' ? 1 : part === 'odometer' ? 3 : 6);
        if (!(speedKmh >= 0)) throw new TypeError('speedKmh must not be negative');
        if (!(step > 0)) throw new TypeError('step must be longer than 0s');
        if (!(PARTS as readonly string[]).includes(part)) throw new TypeError(`part must be ${PARTS.map((p) => `'${p}'`).join(', ')}, not '${part}'`);
        checkDecimals(decimals);
        const routes = readRoutes(file, slots.directory ?? '.');
        // Every part of one vehicle (same file, speed and step) reads the same state: lat and lon agree.
        const base = sharedSlot(slots, `route:${file}:${speedKmh}:${step}`, () => allocateVehicle(slots));
        const metresPerSample = (speedKmh / 3.6) * step;
        const factor = 10 ** decimals;
        const which = part as Part;
        return (context: TemplateContext) => {
          const walks = context.walks;
          if (newSample(context, base)) walks[base + SAMPLE] = (walks[base + SAMPLE] as number) + 1;
          return roundTo(position(routes, walks, base, metresPerSample, which), factor);
        };
      },
    },
  ],
];
