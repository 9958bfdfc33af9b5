import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

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
