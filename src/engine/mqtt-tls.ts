import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileErrorReason } from '../errors.ts';
import type { MqttTlsSettings } from '../profile/types.ts';
import type { TemplateContext } from '../template/context.ts';
import type { TlsOptions } from '../transport/mqtt.ts';

/**
 * Resolves each device's TLS material for mqtts://. Cert and key paths may name the device, so they
 * are read per device, once per distinct file; a file that cannot be read fails that device's
 * CONNECT with the reason, instead of the whole run.
 */
export class MqttTlsFiles {
  private readonly files = new Map<string, Buffer | string>();

  constructor(private readonly settings: MqttTlsSettings | undefined) {}

  forDevice(device: TemplateContext): TlsOptions {
    const settings = this.settings;
    if (!settings) return { rejectUnauthorized: true };
    const options: { -readonly [K in keyof TlsOptions]: TlsOptions[K] } = { rejectUnauthorized: settings.rejectUnauthorized };
    if (settings.ca) options.ca = settings.ca;
    for (const field of ['cert', 'key'] as const) {
      const template = settings[field];
      if (!template) continue;
      const file = path.resolve(settings.baseDir, String(template.evaluate(device)));
      const content = this.read(file);
      if (typeof content === 'string') options.problem ??= content;
      else options[field] = content;
    }
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
