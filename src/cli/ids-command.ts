import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { fleetIdentities } from '../engine/fleet/fleet-ids.ts';
import { loadRunPlan } from '../run/load-plan.ts';
import { checkWritableFile } from '../report/output-path.ts';
import { outputFile, overridesFromFlags } from '../run/overrides.ts';
import type { FlagValue, RunFlags } from '../run/overrides.ts';
import type { Output } from '../run/run-environment.ts';

export interface IdsCommandFlags extends RunFlags {
  readonly profile: string;
  readonly csv?: FlagValue;
}

/** Rows written per chunk: a million devices stream out without a million-row array. */
const CHUNK = 10_000;

/**
 * `fleetsim ids`: the fleet's devices as CSV (`index,id,model`, and `clientId` when a model keeps
 * an MQTT session), derived from the seed as a run derives them, so the devices can be registered,
 * or their certificates minted, before the run.
 */
export async function idsCommand(flags: IdsCommandFlags, output: Output): Promise<number> {
  const file = outputFile('csv', flags.csv);
  const plan = await loadRunPlan(path.resolve(flags.profile), overridesFromFlags(flags));
  if (file) await checkWritableFile('--csv', file);
  // The client id gets its own column only where a model makes it differ from the device id.
  const withClientId = plan.fleet.some((entry) => entry.model.mqtt !== undefined && entry.model.mqtt.clientId.source.trim() !== '{{ device.id }}');
  const stream: WriteStream | undefined = file ? createWriteStream(path.resolve(file)) : undefined;
  const write = (text: string): void => {
    if (stream) stream.write(text);
    else output.stdout(text.replace(/\r?\n$/, ''));
  };
  write(stringify([withClientId ? ['index', 'id', 'model', 'clientId'] : ['index', 'id', 'model']]));
  let rows: string[][] = [];
  for (const device of fleetIdentities(plan)) {
    rows.push(withClientId ? [String(device.index), device.id, device.model, device.clientId ?? ''] : [String(device.index), device.id, device.model]);
    if (rows.length === CHUNK) {
      write(stringify(rows));
      rows = [];
    }
  }
  if (rows.length > 0) write(stringify(rows));
  if (stream) {
    stream.end();
    await finished(stream);
    output.stderr(`${plan.devices} devices of ${plan.profilePath} (seed ${plan.seed}) written to ${file ?? ''}.`);
  }
  return 0;
}
