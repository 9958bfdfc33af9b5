import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../helpers/cli.ts';
import { TempDir } from '../helpers/temp-files.ts';

const run = promisify(execFile);

test('bin/fleetsim.js in a clone with no dist/ (installed with --omit=dev) says how to build, in one line, exit 2', async () => {
  const temp = await TempDir.create();
  try {
    await mkdir(temp.file('bin'));
    await copyFile(path.join(ROOT, 'bin/fleetsim.js'), temp.file('bin/fleetsim.js'));
    await copyFile(path.join(ROOT, 'package.json'), temp.file('package.json'));
    const failed = await run(process.execPath, [temp.file('bin/fleetsim.js'), '--version']).then(
      () => assert.fail('it ran without dist/'),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    assert.equal(failed.code, 2);
    assert.equal(failed.stdout, '');
    assert.equal(failed.stderr, 'fleetsim: dist/ is not built: run `npm ci` (or `npm install`), then `npm run build`, in the fleetsim folder.\n');
  } finally {
    await temp.remove();
  }
});
