import { test } from 'node:test';
import assert from 'node:assert/strict';
import yargs from 'yargs';
import { runCommandOptions, execute } from '../../../src/cli/main.ts';
import { SPLIT_RUN_FLAGS, unlistedFlags } from '../../../src/distributed/run-flags.ts';

/** The `run` command's flags as yargs declares them: a flag added there and not to the table fails here. */
function runFlags(): string[] {
  const parser = runCommandOptions(yargs([]));
  const options = (parser as unknown as { getOptions(): { key: Record<string, unknown> } }).getOptions().key;
  return Object.keys(options);
}

test('every run flag has an entry in the split-run table', () => {
  const flags = runFlags();
  assert.ok(flags.includes('exit-code-on-error') && flags.includes('broker-stats') && flags.includes('start-at'), flags.join(' '));
  assert.deepEqual(unlistedFlags(flags), []);
  // And the table names no flag run has lost.
  for (const flag of Object.keys(SPLIT_RUN_FLAGS)) assert.ok(flag === 'profile' || flags.includes(flag), `--${flag} is not a run flag any more`);
});

const VALUES: Readonly<Record<string, string | undefined>> = {
  ui: undefined,
  'metrics-port': '0',
  'metrics-host': '0.0.0.0',
  'ui-port': '0',
  'ui-host': '0.0.0.0',
  'ui-token': 'x',
  'max-devices': '50',
  shard: '0/2',
};

for (const [flag, handling] of Object.entries(SPLIT_RUN_FLAGS)) {
  if (handling.how !== 'refused') continue;
  for (const mode of [
    ['run', '--workers', '2'],
    ['coordinate', '--workers', '2', '--listen', '127.0.0.1:0'],
  ] as const) {
    test(`${mode[0]} ${mode[1]}: --${flag} is refused by name, exit 2`, async () => {
      const value = VALUES[flag];
      let stderr = '';
      const code = await execute([mode[0], 'profiles/iot-node.yaml', ...mode.slice(1), `--${flag}`, ...(value === undefined ? [] : [value])], {
        stdout: () => undefined,
        stderr: (text) => (stderr += text),
      });
      assert.equal(code, 2, stderr);
      assert.match(stderr, new RegExp(`--${flag}`));
    });
  }
}

const runQuietly = async (args: readonly string[]): Promise<{ code: number; stderr: string }> => {
  let stderr = '';
  const code = await execute([...args], { stdout: () => undefined, stderr: (text) => (stderr += text) });
  return { code, stderr };
};

for (const [flag, handling] of Object.entries(SPLIT_RUN_FLAGS)) {
  if (handling.how !== 'coordinator') continue;
  const value = VALUES[flag];
  // What goes with another flag is refused without it, on both coordinated routes; the runs
  // themselves are in test/integration/coordinator-live.test.ts and workers.test.ts.
  if (flag === 'ui' || flag === 'metrics-port') continue;
  for (const mode of [
    ['run', '--workers', '2'],
    ['coordinate', '--workers', '2', '--listen', '127.0.0.1:0'],
  ] as const) {
    test(`${mode[0]} ${mode[1]}: --${flag} without the flag it goes with is refused by name, exit 2`, async () => {
      const { code, stderr } = await runQuietly([mode[0], 'profiles/iot-node.yaml', ...mode.slice(1), `--${flag}`, ...(value === undefined ? [] : [value])]);
      assert.equal(code, 2, stderr);
      assert.match(stderr, new RegExp(`--${flag}: only with --${flag === 'metrics-host' ? 'metrics-port' : 'ui'}`));
    });
  }
}
