import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileErrorReason } from '../errors.ts';
import { templateAt } from './field-readers.ts';
import type { ClientTlsDoc } from './profile-schema.ts';
import type { ClientTlsSettings, FleetEntry } from './types.ts';
import type { YamlSource } from './yaml-source.ts';
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Device fields and data columns only: a certificate path names the device, nothing random or captured. */
class PathScope {
  readonly dataColumns: string[] = [];
  /** The field that first read each column, for errors about it. */
  readonly fieldOf = new Map<string, string>();
  field = '';

  allocateWalk(): number {
    throw new Error('a certificate path cannot use walk()');
  }
  environment(name: string): string {
    throw new Error(`a certificate path cannot read env.${name}`);
  }
  data(name: string): number {
    const slot = this.dataColumns.indexOf(name);
    if (slot >= 0) return slot;
    this.fieldOf.set(name, this.field);
    return this.dataColumns.push(name) - 1;
  }
  variable(name: string): number {
    throw new Error(`a certificate path cannot read vars.${name}`);
  }
}

/** One `tls:` section of a profile: its files are read relative to the profile, errors point at their field. */
class TlsSection {
  constructor(
    private readonly source: YamlSource,
    private readonly profileDir: string,
    private readonly section: readonly string[],
    readonly raw: ClientTlsDoc,
  ) {
    if ((raw.cert === undefined) !== (raw.key === undefined)) {
      const [given, missing] = raw.cert === undefined ? ['key', 'cert'] : ['cert', 'key'];
      throw source.error([...section, given], `needs '${missing}' too: a client certificate needs both cert and key`, { atKey: true });
    }
  }

  get rejectUnauthorized(): boolean {
    return this.raw.insecure !== true;
  }

  at(field: string): string[] {
    return [...this.section, field];
  }

  async read(field: string, file: string): Promise<Buffer> {
    try {
      return await readFile(path.resolve(this.profileDir, file));
    } catch (error) {
      throw this.source.error(this.at(field), `cannot read ${file}: ${fileErrorReason(error)}`);
    }
  }
}

/**
 * `http.tls` or `mqtt.tls`: the CA is read now; cert and key paths that are templates are read per
 * device when it first connects (once per file). A fixed path is read now, so a missing file is a
 * load-time error at its line rather than every device's failure.
 */
export async function loadClientTls(
  source: YamlSource,
  profileDir: string,
  section: 'http' | 'mqtt',
  raw: ClientTlsDoc | undefined,
  fleet: readonly FleetEntry[],
): Promise<ClientTlsSettings | undefined> {
  if (!raw) return undefined;
  const tls = new TlsSection(source, profileDir, [section, 'tls'], raw);
  const scope = new PathScope();
  const settings: Mutable<ClientTlsSettings> = { baseDir: profileDir, rejectUnauthorized: tls.rejectUnauthorized, dataColumns: scope.dataColumns };
  if (raw.ca !== undefined) settings.ca = await tls.read('ca', raw.ca);
  for (const field of ['cert', 'key'] as const) {
    const text = raw[field];
    if (text === undefined) continue;
    scope.field = field;
    const template = templateAt(source, tls.at(field), text, scope);
    if (template.constant !== undefined) await tls.read(field, String(template.constant));
    settings[field] = template;
  }
  checkDataColumns(source, tls, scope, fleet);
  return settings;
}

/**
 * Certificate paths read from data files (`{{ data.cert }}`) need every fleet entry that runs
 * devices to have a data file with those columns; the error points at the tls field that reads it.
 */
function checkDataColumns(source: YamlSource, tls: TlsSection, scope: PathScope, fleet: readonly FleetEntry[]): void {
  for (const column of scope.dataColumns) {
    const field = tls.at(scope.fieldOf.get(column) ?? 'cert');
    for (const [i, entry] of fleet.entries()) {
      if (entry.count === 0) continue;
      if (!entry.data) throw source.error(field, `reads {{ data.${column} }} but fleet entry ${i + 1} (${entry.model.name}) names no data file`);
      if (entry.data.table.columnIndex(column) < 0)
        throw source.error(field, `reads {{ data.${column} }} but ${entry.data.table.file} (fleet entry ${i + 1}) has no such column (its columns: ${entry.data.table.columns.join(', ')})`);
    }
  }
}
