import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileErrorReason } from '../../errors.ts';
import type { ClientTlsSettings, FleetEntry } from '../../profile/types.ts';
import type { TemplateContext } from '../../template/context.ts';
import type { DeviceTls } from '../../transport/types.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const NO_SETTINGS: DeviceTls = { rejectUnauthorized: true, id: '' };

/**
 * Resolves each device's TLS material for https:// targets and mqtts:// brokers. Cert and key paths
 * may name the device, so they are read per device, once per distinct file; a file that cannot be
 * read fails that device's connection with the reason, instead of the whole run.
 */
class TlsFiles {
  private readonly files = new Map<string, Buffer | string>();
  private readonly shared = new Map<string, DeviceTls>();

  constructor(private readonly settings: ClientTlsSettings | undefined) {}

  /** `context` sees the device's fields and the data columns the cert and key templates read. */
  forDevice(context: TemplateContext): DeviceTls {
    const settings = this.settings;
    if (!settings) return NO_SETTINGS;
    const files = (['cert', 'key'] as const).map((field) => {
      const template = settings[field];
      return template ? path.resolve(settings.baseDir, String(template.evaluate(context))) : undefined;
    });
    const id = files.map((file) => (file === undefined ? '' : `${file}\n`)).join('');
    // Devices presenting the same files share one options object, so the transport builds their
    // secure context once (transport/tls-context.ts).
    let options = this.shared.get(id);
    if (options !== undefined) return options;
    const built: Mutable<DeviceTls> = { rejectUnauthorized: settings.rejectUnauthorized, id };
    if (settings.ca) built.ca = settings.ca;
    for (const [at, field] of (['cert', 'key'] as const).entries()) {
      const file = files[at];
      if (file === undefined) continue;
      const content = this.read(file);
      if (typeof content === 'string') built.problem ??= content;
      else built[field] = content;
    }
    options = built;
    this.shared.set(id, options);
    return options;
  }

  private read(file: string): Buffer | string {
    let content = this.files.get(file);
    if (content === undefined) {
      try {
        content = readFileSync(file);
      } catch (error) {
        content = `cannot read ${path.basename(file)}: ${fileErrorReason(error)}`;
      }
      this.files.set(file, content);
    }
    return content;
  }
}

/** Where a device's certificate paths come from: its id, index and model, and its data row. */
export interface DeviceTlsSource {
  readonly fleet: readonly FleetEntry[];
  /** Fleet entry of each device index. */
  readonly layout: Uint16Array;
  /** Each device's row in its entry's data file. */
  readonly ordinals: Uint32Array;
  readonly idOf: readonly ((index: number) => string)[];
}

const NO_RANDOM = (): number => 0;

/**
 * A device's TLS material by its index, before or without its `VirtualDevice`: the profile's cert
 * and key templates see the device's fields and the data columns they name (their own slots, not the
 * model's). Made once per device, when its first connection opens.
 */
export class DeviceTlsResolver {
  private readonly files: TlsFiles;

  constructor(
    private readonly settings: ClientTlsSettings | undefined,
    private readonly source: DeviceTlsSource,
  ) {
    this.files = new TlsFiles(settings);
  }

  forDevice(index: number): DeviceTls {
    return this.files.forDevice(this.contextFor(index));
  }

  private contextFor(index: number): TemplateContext {
    const entryIndex = this.source.layout[index] ?? 0;
    const entry = this.source.fleet[entryIndex];
    const table = entry?.data?.table;
    const row = this.source.ordinals[index] ?? 0;
    const data = table ? (this.settings?.dataColumns ?? []).map((column) => table.value(row, table.columnIndex(column))) : [];
    const id = this.source.idOf[entryIndex]?.(index) ?? '';
    return { deviceId: id, deviceIndex: index, deviceModel: entry?.model.name ?? '', seq: 0, random: NO_RANDOM, walks: [], vars: [], repeatIndex: 0, data, timeMs: 0 };
  }
}
