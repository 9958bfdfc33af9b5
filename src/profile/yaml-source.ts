import { readFile } from 'node:fs/promises';
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, Node } from 'yaml';
import { FleetsimError, ProfileError } from '../errors.ts';
import type { SourcePosition } from '../errors.ts';
import { scalarValueOffsets } from './scalar-offsets.ts';

export type FieldPath = readonly (string | number)[];

/** A parsed YAML file that can say where any field of it came from. */
export class YamlSource {
  private constructor(
    readonly file: string,
    readonly text: string,
    readonly data: unknown,
    private readonly document: Document,
    private readonly lines: LineCounter,
  ) {}

  static async read(file: string, displayName: string): Promise<YamlSource> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message;
      throw new FleetsimError('FLEETSIM_FILE', `${displayName}: ${reason}`);
    }
    return YamlSource.parse(text, displayName);
  }

  static parse(text: string, displayName: string): YamlSource {
    const lines = new LineCounter();
    const document = parseDocument(text, { lineCounter: lines, prettyErrors: false });
    const problem = document.errors[0];
    if (problem) {
      const { line, col } = lines.linePos(problem.pos[0]);
      const message = problem.message.split('\n')[0] ?? problem.message;
      throw new ProfileError({ file: displayName, line, column: col }, '', `invalid YAML: ${message}`);
    }
    if (document.contents === null) throw new ProfileError({ file: displayName, line: 0, column: 0 }, '', 'the file is empty (or only comments)');
    return new YamlSource(displayName, text, document.toJS() as unknown, document, lines);
  }

  /** Position of the value at `path` (or of its key with `atKey`), falling back to the nearest existing parent. */
  positionOf(path: FieldPath, atKey = false, offsetInValue = 0): SourcePosition {
    let node: Node | null | undefined = this.document.contents;
    let keyNode: Node | undefined;
    for (const segment of path) {
      if (isMap(node)) {
        const pair = node.items.find((item) => isScalar(item.key) && item.key.value === segment);
        if (!pair) break;
        keyNode = pair.key as Node;
        node = pair.value as Node | null;
        if (node === null) {
          node = keyNode;
          break;
        }
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = node.items[segment] as Node | undefined;
        if (!item) break;
        keyNode = undefined;
        node = item;
      } else {
        break;
      }
    }
    const target = atKey && keyNode ? keyNode : node;
    let offset = target?.range?.[0] ?? 0;
    if (offsetInValue > 0 && isScalar(target) && target.range) {
      const offsets = scalarValueOffsets(this.text, target.range[0], target.range[1], String(target.type));
      offset = offsets[Math.min(offsetInValue, offsets.length - 1)] ?? offset;
    }
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, column: col };
  }

  error(path: FieldPath, problem: string, options: { atKey?: boolean; offsetInValue?: number } = {}): ProfileError {
    return new ProfileError(this.positionOf(path, options.atKey ?? false, options.offsetInValue ?? 0), fieldName(path), problem);
  }
}

/** `tasks[0].http.path` style names for messages. */
export function fieldName(path: FieldPath): string {
  let out = '';
  for (const segment of path) out += typeof segment === 'number' ? `[${segment}]` : out ? `.${segment}` : segment;
  return out;
}

