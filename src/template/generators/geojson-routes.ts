import { readFileSync } from 'node:fs';
import path from 'node:path';

/** Mean Earth radius (IUGG), metres: distances along a route are great-circle distances between its vertices. */
export const EARTH_RADIUS_M = 6_371_008.8;

/** One LineString, with the distance from its start to each vertex. */
export interface Route {
  readonly lon: Float64Array;
  readonly lat: Float64Array;
  /** Metres from the first vertex to vertex i. */
  readonly along: Float64Array;
  readonly lengthM: number;
}

const toRadians = Math.PI / 180;

export function haversineM(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const dLat = (lat2 - lat1) * toRadians;
  const dLon = (lon2 - lon1) * toRadians;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * toRadians) * Math.cos(lat2 * toRadians) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** Initial bearing from one point to another, degrees clockwise from north in [0, 360). */
export function bearingDeg(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const p1 = lat1 * toRadians;
  const p2 = lat2 * toRadians;
  const dLon = (lon2 - lon1) * toRadians;
  const y = Math.sin(dLon) * Math.cos(p2);
  const x = Math.cos(p1) * Math.sin(p2) - Math.sin(p1) * Math.cos(p2) * Math.cos(dLon);
  return (((Math.atan2(y, x) / toRadians) % 360) + 360) % 360;
}

function lineStrings(document: unknown): unknown[][] {
  const node = document as { type?: unknown; coordinates?: unknown; geometry?: unknown; features?: unknown };
  switch (node?.type) {
    case 'LineString':
      return [node.coordinates as unknown[]];
    case 'MultiLineString':
      return node.coordinates as unknown[][];
    case 'Feature':
      return lineStrings(node.geometry);
    case 'FeatureCollection':
      return (Array.isArray(node.features) ? node.features : []).flatMap((feature) => lineStrings(feature));
    default:
      return [];
  }
}

function buildRoute(coordinates: unknown[], where: string): Route {
  if (!Array.isArray(coordinates) || coordinates.length < 2) throw new TypeError(`${where} needs at least two positions`);
  const lon = new Float64Array(coordinates.length);
  const lat = new Float64Array(coordinates.length);
  const along = new Float64Array(coordinates.length);
  coordinates.forEach((position, i) => {
    const [x, y] = Array.isArray(position) ? (position as unknown[]) : [];
    if (typeof x !== 'number' || typeof y !== 'number' || Math.abs(y) > 90 || Math.abs(x) > 180) throw new TypeError(`${where}, position ${i + 1}: expected [longitude, latitude] in degrees`);
    lon[i] = x;
    lat[i] = y;
    if (i > 0) along[i] = (along[i - 1] as number) + haversineM(lat[i - 1] as number, lon[i - 1] as number, y, x);
  });
  const lengthM = along[coordinates.length - 1] as number;
  if (!(lengthM > 0)) throw new TypeError(`${where} has no length: its positions are all the same point`);
  return { lon, lat, along, lengthM };
}

const loaded = new Map<string, readonly Route[]>();

/** The LineStrings of a GeoJSON file (a LineString, MultiLineString, Feature or FeatureCollection), read once per file. */
export function readRoutes(file: string, directory: string): readonly Route[] {
  const full = path.resolve(directory, file);
  const cached = loaded.get(full);
  if (cached) return cached;
  let document: unknown;
  try {
    document = JSON.parse(readFileSync(full, 'utf8'));
  } catch (error) {
    const reason = error instanceof SyntaxError ? `not JSON: ${error.message}` : ((error as NodeJS.ErrnoException).code ?? (error as Error).message);
    throw new TypeError(`cannot read ${file}: ${reason}`, { cause: error });
  }
  const lines = lineStrings(document);
  if (lines.length === 0) throw new TypeError(`${file} holds no LineString (a GeoJSON LineString, MultiLineString, Feature or FeatureCollection of them)`);
  const routes = lines.map((coordinates, i) => buildRoute(coordinates, `${file}: line ${i + 1}`));
  loaded.set(full, routes);
  return routes;
}

/** Where a point `distance` metres along `route` is: the index of its segment's start. */
export function segmentAt(route: Route, distance: number): number {
  const along = route.along;
  let lo = 0;
  let hi = along.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if ((along[mid] as number) <= distance) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
