import path from 'node:path';
import { DataFileError, DataTable } from './data-file.ts';
import type { FleetEntryDoc } from './profile-schema.ts';
import type { DeviceModel, FleetData } from './types.ts';
import type { YamlSource } from './yaml-source.ts';

/**
 * A fleet entry's data file, checked against what its model reads: every `{{ data.NAME }}` column,
 * the id column of the data scheme and the secret columns must exist, and the file must hold a row
 * for each of the entry's devices (no wrapping around: two devices sharing a registry row would
 * log in as each other). Ids read from the file must be unique among the rows used.
 */
export async function loadFleetData(
  source: YamlSource,
  at: number,
  raw: FleetEntryDoc['data'],
  model: DeviceModel,
  count: number,
  profileDir: string,
  tables: Map<string, Promise<DataTable>>,
): Promise<FleetData | undefined> {
  const where = ['fleet', at, 'data'];
  if (!raw) {
    if (model.dataColumns.length > 0)
      throw source.error(['fleet', at], `device model ${model.name} reads {{ data.${model.dataColumns[0] ?? ''} }} but this entry names no data file (data: { file: devices.csv })`);
    if (model.identity.scheme === 'data') throw source.error(['fleet', at], `device model ${model.name} takes its ids from a data column but this entry names no data file`);
    return undefined;
  }
  const file = path.resolve(profileDir, raw.file);
  let reading = tables.get(file);
  if (!reading) {
    reading = DataTable.read(file, path.relative(process.cwd(), file) || file);
    tables.set(file, reading);
  }
  let table: DataTable;
  try {
    table = await reading;
  } catch (error) {
    if (error instanceof DataFileError) throw source.error([...where, 'file'], error.message);
    throw source.error([...where, 'file'], `cannot read ${raw.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const column = (name: string, field: (string | number)[], use: string): number => {
    const index = table.columnIndex(name);
    if (index < 0) throw source.error(field, `${table.file} has no column '${name}' (${use}; its columns: ${table.columns.join(', ')})`);
    return index;
  };
  const columnOfSlot = model.dataColumns.map((name) => column(name, where, `device model ${model.name} reads {{ data.${name} }}`));
  const secretNames = raw.secret ?? [];
  const secretSlots = secretNames.map((name, i) => {
    column(name, [...where, 'secret', i], 'named secret');
    return model.dataColumns.indexOf(name);
  });
  const identity = model.identity;
  const idName = identity.scheme === 'data' ? identity.column : undefined;
  const idColumn = idName === undefined ? undefined : column(idName, where, `device model ${model.name} takes its ids from it`);
  if (table.rows < count) throw source.error([...where, 'file'], `${table.file} has ${table.rows} rows but this entry runs ${count} devices: give each device its own row`);
  for (const [name, check] of model.dataChecks) {
    const index = table.columnIndex(name);
    for (let row = 0; row < count; row++) {
      const problem = check(table.value(row, index));
      if (problem !== undefined) throw source.error([...where, 'file'], `${table.file}: row ${row + 1}, column '${name}': ${problem}`);
    }
  }
  if (idColumn !== undefined) {
    const seen = new Map<string, number>();
    for (let row = 0; row < count; row++) {
      const id = table.value(row, idColumn);
      const earlier = seen.get(id);
      if (earlier !== undefined) throw source.error([...where, 'file'], `${table.file}: id '${id}' in column '${idName ?? ''}' is on rows ${earlier + 1} and ${row + 1}: ids must be unique`);
      if (id === '') throw source.error([...where, 'file'], `${table.file}: row ${row + 1} has an empty id in column '${idName ?? ''}'`);
      seen.set(id, row);
    }
  }
  return { table, columnOfSlot, secretSlots: secretSlots.filter((slot) => slot >= 0), idColumn };
}
