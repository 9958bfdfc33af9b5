import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileErrorReason } from '../errors.ts';
import { templateAt } from './field-readers.ts';
import type { MqttTlsSettings, TlsSettings } from './types.ts';
import type { YamlSource } from './yaml-source.ts';

type Json = Record<string, unknown>;
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Device fields only: a certificate path names the device, nothing random or captured. */
const pathScope = {
  allocateWalk(): number {
    throw new Error('a certificate path cannot use walk()');
  },
  environment(name: string): string {
    throw new Error(`a certificate path cannot read env.${name}`);
  },
  data(name: string): number {
    throw new Error(`a certificate path cannot read data.${name}`);
  },
  variable(name: string): number {
    throw new Error(`a certificate path cannot read vars.${name}`);
  },
};

/** One `tls:` section of a profile: its files are read relative to the profile, errors point at their field. */
class TlsSection {
  constructor(
    private readonly source: YamlSource,
    private readonly profileDir: string,
    private readonly section: readonly string[],
    readonly raw: Json,
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

/** `http.tls`: every file is read now, so a missing one is a load-time error at its line. */
export async function loadHttpTls(source: YamlSource, profileDir: string, raw: Json | undefined): Promise<TlsSettings | undefined> {
  if (!raw) return undefined;
  const tls = new TlsSection(source, profileDir, ['http', 'tls'], raw);
  const settings: Mutable<TlsSettings> = { rejectUnauthorized: tls.rejectUnauthorized };
  for (const field of ['ca', 'cert', 'key'] as const) {
    const file = raw[field] as string | undefined;
    if (file !== undefined) settings[field] = await tls.read(field, file);
  }
  return settings;
}

/** `mqtt.tls`: the CA is read now; cert and key paths that are templates are read per device at connect. */
export async function loadMqttTls(source: YamlSource, profileDir: string, raw: Json | undefined): Promise<MqttTlsSettings | undefined> {
  if (!raw) return undefined;
  const tls = new TlsSection(source, profileDir, ['mqtt', 'tls'], raw);
  const settings: Mutable<MqttTlsSettings> = { baseDir: profileDir, rejectUnauthorized: tls.rejectUnauthorized };
  if (raw.ca !== undefined) settings.ca = await tls.read('ca', raw.ca as string);
  for (const field of ['cert', 'key'] as const) {
    const text = raw[field] as string | undefined;
    if (text === undefined) continue;
    const template = templateAt(source, tls.at(field), text, pathScope);
    // A fixed path is checked now, at its line, rather than failing every device's connect.
    if (template.constant !== undefined) await tls.read(field, String(template.constant));
    settings[field] = template;
  }
  return settings;
}
