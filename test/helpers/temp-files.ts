import { after, before } from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { ProfileError } from '../../src/errors.ts';
import { loadRunPlan } from '../../src/profile/load.ts';
import type { RunPlan } from '../../src/profile/types.ts';

/** A scratch directory for profiles and device models written by a test. */
export class TempDir {
  private constructor(readonly dir: string) {}

  static async create(): Promise<TempDir> {
    return new TempDir(await mkdtemp(path.join(tmpdir(), 'fleetsim-test-')));
  }

  async write(name: string, text: string): Promise<string> {
    const file = path.join(this.dir, name);
    await writeFile(file, text);
    return file;
  }

  file(name: string): string {
    return path.join(this.dir, name);
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

export const MINIMAL_DEVICE = `kind: device
name: probe
tasks:
  - name: /data
    http:
      method: POST
      path: /data
      json:
        value: "{{ int(1, 10) }}"
wait:
  model: constant
  time: 0s
`;

export function profileFor(device: string, extra = 'iterations: 2\n'): string {
  return `kind: profile
name: probe
seed: 1
fleet:
  - device: ${device}
    count: 3
${extra}`;
}

/** Writes a device model and a profile of 3 such devices into `temp`, and loads the run plan. */
export async function loadPlanFor(temp: TempDir, deviceText: string, profileExtra?: string): Promise<RunPlan> {
  const name = `case-${Math.random().toString(36).slice(2)}`;
  await temp.write(`${name}.device.yaml`, deviceText);
  return loadRunPlan(await temp.write(`${name}.yaml`, profileFor(`${name}.device.yaml`, profileExtra)));
}

/** As loadPlanFor, for an invalid model or profile: returns the ProfileError it must fail with. */
export async function loadErrorFor(temp: TempDir, deviceText: string, profileExtra?: string): Promise<ProfileError> {
  try {
    await loadPlanFor(temp, deviceText, profileExtra);
  } catch (error) {
    assert.ok(error instanceof ProfileError, `expected a ProfileError, got ${String(error)}`);
    return error;
  }
  assert.fail('the profile loaded although it is invalid');
}

/** A test file's scratch directory holding one device model and its profile (`NAME.device.yaml`, `NAME.yaml`), for its tests to run. */
export function useProfileFiles(name: string, device: string, profile: string): { readonly temp: TempDir; readonly profile: string } {
  let temp: TempDir | undefined;
  let file: string | undefined;
  before(async () => {
    temp = await TempDir.create();
    await temp.write(`${name}.device.yaml`, device);
    file = await temp.write(`${name}.yaml`, profile);
  });
  after(async () => {
    await temp?.remove();
  });
  return {
    get temp() {
      if (temp === undefined) throw new Error('the temp dir is made in before(); read it inside a test');
      return temp;
    },
    get profile() {
      if (file === undefined) throw new Error('the profile is written in before(); read it inside a test');
      return file;
    },
  };
}
