import { deviceModelSchema } from './device-schema.ts';
import { profileSchema } from './profile-schema.ts';

/** The published JSON Schema files and their exact contents. */
export function schemaFiles(): [file: string, text: string][] {
  return [
    ['schema/device.schema.json', `${JSON.stringify(deviceModelSchema, null, 2)}\n`],
    ['schema/profile.schema.json', `${JSON.stringify(profileSchema, null, 2)}\n`],
  ];
}
