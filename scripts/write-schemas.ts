import { writeFile } from 'node:fs/promises';
import { schemaFiles } from '../src/profile/schema-files.ts';

// Regenerates schema/*.schema.json from the TypeBox declarations in src/profile/ (device-schema.ts, profile-schema.ts); a test fails when they drift.
for (const [file, text] of schemaFiles()) await writeFile(new URL(`../${file}`, import.meta.url), text);
