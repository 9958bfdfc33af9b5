/**
 * The JSONPath subset captures use: `$`, then `.name` and `[index]` segments (`$.access`,
 * `$.items[0].id`, `$["odd key"]`). Enough to lift a token or an id out of a response; no filters.
 */
const SEGMENT = /\.([A-Za-z_$][A-Za-z0-9_$-]*)|\[(\d+)\]|\["([^"\\]*)"\]/y;

/** The segments of `expression`, or undefined when it is not in the subset. */
export function parseCapturePath(expression: string): (string | number)[] | undefined {
  if (!expression.startsWith('$')) return undefined;
  const path: (string | number)[] = [];
  let at = 1;
  while (at < expression.length) {
    SEGMENT.lastIndex = at;
    const match = SEGMENT.exec(expression);
    if (!match) return undefined;
    path.push(match[2] !== undefined ? Number(match[2]) : (match[1] ?? match[3] ?? ''));
    at = SEGMENT.lastIndex;
  }
  return path;
}

/** Follows `path` into a parsed JSON value; undefined when a segment is missing. */
export function followPath(value: unknown, path: readonly (string | number)[]): unknown {
  let node = value;
  for (const segment of path) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, segment)) return undefined;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node;
}
