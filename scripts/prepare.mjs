// npm runs `prepare` on `npm ci` in a clone and before `npm pack`. TypeScript is a devDependency:
// a production install (`npm ci --omit=dev`) has none, so the build is skipped there, saying so.
// A published tarball never needs it: it already holds dist/.
import { createRequire } from 'node:module';
import { build } from './build.mjs';

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  console.log('fleetsim: TypeScript is not installed (a production install): skipping the build. bin/fleetsim.js needs dist/: run `npm ci` and `npm run build` to make it.');
  process.exit(0);
}
process.exit(build(tsc));
