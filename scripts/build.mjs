#!/usr/bin/env node
// The build: TypeScript to dist/ (tsc -p tsconfig.build.json), then the pages' browser scripts
// (src/*/browser/*.js, type-checked by `npm run typecheck`, served as written) copied beside the
// modules that read them, so dist/ runs on its own. `npm run build`, prepare.mjs and run-tests.mjs
// all build through here.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** The browser scripts, relative to the repository: `src/<layer>/browser/<name>.js`. */
export function browserAssets() {
  return readdirSync(path.join(root, 'src'))
    .map((layer) => path.posix.join('src', layer, 'browser'))
    .filter((dir) => existsSync(path.join(root, dir)))
    .flatMap((dir) =>
      readdirSync(path.join(root, dir))
        .filter((name) => name.endsWith('.js'))
        .map((name) => path.posix.join(dir, name)),
    );
}

/** Builds dist/; the exit status of the step that failed, else 0. `tsc`: the compiler's bin script. */
export function build(tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')) {
  const compiled = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  if (compiled.status !== 0) return compiled.status ?? 1;
  for (const file of browserAssets()) {
    const target = path.join(root, 'dist', file);
    mkdirSync(path.dirname(target), { recursive: true });
    copyFileSync(path.join(root, file), target);
  }
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exit(build());
