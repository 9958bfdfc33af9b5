import type { ReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse';
import { fileErrorReason, FleetsimError } from '../errors.ts';

/** Why a data file cannot be used, with the line it is about (1-based; 0 for the file as a whole). */
export class DataFileError extends FleetsimError {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super('FLEETSIM_DATA_FILE', `${file}${line > 0 ? `:${line}` : ''}: ${message}`);
    this.name = 'DataFileError';
  }
}

/**
 * Per-device rows from a CSV (a header line, then one row a device) or NDJSON file (one JSON object
 * a device), kept compactly: each column is one string of its values joined, with their offsets in
 * a typed array, so a million rows of three short columns cost tens of MB rather than a string
 * object per cell. Values are strings; a device takes its row when it starts.
 */
export class DataTable {
  private constructor(
    readonly file: string,
    readonly columns: readonly string[],
    private readonly text: readonly string[],
    private readonly offsets: readonly Uint32Array[],
    readonly rows: number,
  ) {}

  columnIndex(name: string): number {
    return this.columns.indexOf(name);
  }

  value(row: number, column: number): string {
    const offsets = this.offsets[column] as Uint32Array;
    return (this.text[column] as string).slice(offsets[row], offsets[row + 1]);
  }

  static async read(file: string, displayName = file): Promise<DataTable> {
    const ext = path.extname(file).toLowerCase();
    if (ext !== '.csv' && ext !== '.ndjson' && ext !== '.jsonl') throw new DataFileError(displayName, 0, 'a data file is .csv (with a header line) or .ndjson (one JSON object a line)');
    const builder = new TableBuilder(displayName);
    // Opened first, so a missing or unreadable file is one clear error whatever the format; a read
    // that fails later (a directory, an I/O error) is caught on the stream as well.
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (error) {
      throw new DataFileError(displayName, 0, `cannot read it: ${fileErrorReason(error)}`);
    }
    const input = handle.createReadStream();
    try {
      if (ext === '.csv') await readCsv(input, builder);
      else await readNdjson(input, builder);
    } catch (error) {
      if (error instanceof DataFileError) throw error;
      throw new DataFileError(displayName, 0, `cannot read it: ${fileErrorReason(error)}`);
    } finally {
      input.destroy();
    }
    return builder.finish();
  }

  /** Built by `TableBuilder` only. */
  static of(file: string, columns: readonly string[], text: readonly string[], offsets: readonly Uint32Array[], rows: number): DataTable {
    return new DataTable(file, columns, text, offsets, rows);
  }
}

class TableBuilder {
  columns: string[] | undefined;
  /** Each column's values so far, appended to one string, and where each row's value ends. */
  private text: string[] = [];
  private ends: Uint32Array[] = [];
  rows = 0;

  constructor(readonly file: string) {}

  header(columns: readonly string[], line: number): void {
    const names = columns.map((name) => name.trim());
    names.forEach((name, i) => {
      if (name === '') throw new DataFileError(this.file, line, `column ${i + 1} has no name`);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new DataFileError(this.file, line, `column '${name}' is not a name a template can use ({{ data.NAME }}: letters, digits, _)`);
      if (names.indexOf(name) !== i) throw new DataFileError(this.file, line, `column '${name}' appears twice`);
    });
    this.columns = names;
    this.text = names.map(() => '');
    this.ends = names.map(() => new Uint32Array(1024));
  }

  row(values: readonly string[], line: number): void {
    const columns = this.columns as string[];
    if (values.length !== columns.length) throw new DataFileError(this.file, line, `${values.length} fields, but the header has ${columns.length} (${columns.join(', ')})`);
    const row = this.rows + 1;
    if (row >= (this.ends[0]?.length ?? 0)) this.ends = this.ends.map((ends) => grow(ends));
    for (let i = 0; i < values.length; i++) {
      const value = values[i] as string;
      // The decoder puts U+FFFD where the bytes were not UTF-8.
      if (value.includes('\uFFFD')) throw new DataFileError(this.file, line, `column '${columns[i] ?? ''}' is not valid UTF-8`);
      this.text[i] += value;
      (this.ends[i] as Uint32Array)[row] = (this.text[i] as string).length;
    }
    this.rows = row;
  }

  finish(): DataTable {
    if (!this.columns) throw new DataFileError(this.file, 0, 'the file is empty: it needs a header line and a row per device');
    if (this.rows === 0) throw new DataFileError(this.file, 0, 'the file has no rows');
    const offsets = this.ends.map((ends) => ends.slice(0, this.rows + 1));
    // Reading a character makes V8 flatten the appended string in place, once, here: its
    // concatenation tree (a node per row) is then garbage, and reading a value is a plain slice.
    const text = this.text.map((column) => {
      column.charCodeAt(column.length >> 1);
      return column;
    });
    return DataTable.of(this.file, this.columns, text, offsets, this.rows);
  }
}

/**
 * csv-parse streamed, records pulled in a loop: its `info` option, which would give each record's
 * line, made a million rows take 8 s instead of 2, so a record's line is counted here instead (exact
 * unless a quoted field spans lines), and a ragged row is csv-parse's own error, which has its line.
 */
function grow(array: Uint32Array): Uint32Array {
  const larger = new Uint32Array(array.length * 2);
  larger.set(array);
  return larger;
}

async function readCsv(input: ReadStream, builder: TableBuilder): Promise<void> {
  const parser = input.pipe(parse({ bom: true, skip_empty_lines: true }));
  let line = 0;
  // pipe() does not pass on the source's errors: a read that fails is rejected as itself.
  const readFailed = new Promise<never>((_, reject) => input.once('error', reject));
  readFailed.catch(() => undefined);
  try {
    await Promise.race([
      readFailed,
      new Promise<void>((resolve, reject) => {
        parser.on('readable', () => {
          try {
            let record: string[] | null;
            while ((record = parser.read() as string[] | null) !== null) {
              line++;
              if (!builder.columns) builder.header(record, line);
              else builder.row(record, line);
            }
          } catch (error) {
            parser.destroy();
            reject(error instanceof Error ? error : new Error(String(error)));
          }
        });
        parser.once('end', resolve);
        parser.once('error', reject);
      }),
    ]);
  } catch (error) {
    if (error instanceof DataFileError || (error as NodeJS.ErrnoException).syscall !== undefined) throw error;
    const { lines, code, message } = error as { lines?: number; code?: string; message: string };
    if (code === 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH' && builder.columns) {
      const fields = /got (\d+)/.exec(message)?.[1] ?? '?';
      throw new DataFileError(builder.file, lines ?? 0, `${fields} fields, but the header has ${builder.columns.length} (${builder.columns.join(', ')})`);
    }
    throw new DataFileError(builder.file, lines ?? 0, `not CSV: ${message.replace(/^Invalid \w+: /, '')}`);
  }
}

async function readNdjson(input: ReadStream, builder: TableBuilder): Promise<void> {
  const { createInterface } = await import('node:readline');
  input.setEncoding('utf8');
  const lines = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line++;
    if (text.trim() === '') continue;
    let object: unknown;
    try {
      object = JSON.parse(text);
    } catch (error) {
      throw new DataFileError(builder.file, line, `not JSON: ${(error as Error).message}`);
    }
    if (typeof object !== 'object' || object === null || Array.isArray(object)) throw new DataFileError(builder.file, line, 'expected one JSON object a line');
    const entries = Object.entries(object);
    if (!builder.columns)
      builder.header(
        entries.map(([key]) => key),
        line,
      );
    const columns = builder.columns as string[];
    const missing = columns.filter((column) => !Object.hasOwn(object, column));
    if (missing.length > 0 || entries.length !== columns.length) {
      throw new DataFileError(builder.file, line, `keys ${entries.map(([key]) => key).join(', ')}, but the first row has ${columns.join(', ')}`);
    }
    builder.row(
      columns.map((column) => {
        const value = (object as Record<string, unknown>)[column];
        if (value !== null && typeof value === 'object')
          throw new DataFileError(builder.file, line, `'${column}' is ${Array.isArray(value) ? 'an array' : 'an object'}; a data value is a string, number or boolean`);
        return String(value);
      }),
      line,
    );
  }
}
