import { readFile } from 'node:fs/promises';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, Node } from 'yaml';
import { FleetsimError, ProfileError } from '../errors.ts';
import type { SourcePosition } from '../errors.ts';
import { scalarValueOffsets } from './scalar-offsets.ts';

/** Far deeper than any profile or device model nests, and far shallower than the stack allows. */
const MAX_DEPTH = 64;
/** The yaml library's own default: how far aliases may multiply what they name. */
const MAX_ALIAS_COUNT = 100;

/** How deep the document's collections nest, counted without recursion (a deep one must not overflow the stack). */
function nestingDepth(root: Node | null): number {
  let deepest = 0;
  const stack: [Node | null | undefined, number][] = [[root, 1]];
  for (let next = stack.pop(); next; next = stack.pop()) {
    const [node, depth] = next;
    if (isMap(node) || isSeq(node)) {
      deepest = Math.max(deepest, depth);
      if (deepest > MAX_DEPTH) return deepest;
      for (const item of node.items) {
        if (isPair(item)) stack.push([item.value as Node | null, depth + 1], [item.key as Node | null, depth + 1]);
        else stack.push([item as Node | null, depth + 1]);
      }
    }
  }
  return deepest;
}

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
    const whole = { file: displayName, line: 0, column: 0 };
    let document: Document;
    try {
      document = parseDocument(text, { lineCounter: lines, prettyErrors: false });
    } catch (error) {
      // The parser recurses per level of nesting: thousands of levels overflow the stack.
      if (error instanceof RangeError) throw new ProfileError(whole, '', `invalid YAML: nested too deeply (${error.message})`);
      throw error;
    }
    const problem = document.errors[0];
    if (problem) {
      const { line, col } = lines.linePos(problem.pos[0]);
      const message = problem.message.split('\n')[0] ?? problem.message;
      throw new ProfileError({ file: displayName, line, column: col }, '', `invalid YAML: ${message}`);
    }
    if (document.contents === null) throw new ProfileError(whole, '', 'the file is empty (or only comments)');
    const depth = nestingDepth(document.contents);
    if (depth > MAX_DEPTH) throw new ProfileError(whole, '', `invalid YAML: nested ${depth} levels deep; a profile or device model needs far fewer (at most ${MAX_DEPTH})`);
    let data: unknown;
    try {
      // An alias expands to a copy of what it names: a few lines of aliases of aliases (a "billion
      // laughs") would expand to millions of nodes. The yaml library counts them and refuses.
      data = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (error) {
      if (error instanceof ReferenceError || error instanceof RangeError) {
        throw new ProfileError(
          whole,
          '',
          `invalid YAML: ${/alias/i.test(error.message) ? `its aliases (*name) of aliases expand too far (refused past ${MAX_ALIAS_COUNT} copies of one node)` : error.message}`,
        );
      }
      throw error;
    }
    return new YamlSource(displayName, text, data, document, lines);
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
