import type { CompiledTemplate, JsonTemplateLeaf } from './compile.ts';
import type { TemplateContext } from './context.ts';

/** Renders a document (objects, arrays, scalars) whose string leaves are templates, as a value. */
export type ValueTreeRenderer = (context: TemplateContext) => unknown;

/**
 * Compiles a YAML value whose string leaves may be templates into a function that builds the value
 * per message (for encoders that take objects: protobuf, CBOR). A leaf that is one `{{ }}` keeps
 * its type; a subtree without templates is built once and shared.
 */
export function compileValueTree(value: unknown, compileLeaf: (leaf: JsonTemplateLeaf) => CompiledTemplate): ValueTreeRenderer {
  const visit = (node: unknown, path: (string | number)[]): { constant: boolean; render: ValueTreeRenderer } => {
    if (typeof node === 'string') {
      const compiled = compileLeaf({ text: node, path });
      const constant = compiled.constant;
      return constant !== undefined ? { constant: true, render: () => constant } : { constant: false, render: compiled.evaluate };
    }
    if (Array.isArray(node)) {
      const items = node.map((item, i) => visit(item, [...path, i]));
      if (items.every((item) => item.constant)) {
        const fixed = items.map((item) => item.render(undefined as unknown as TemplateContext));
        return { constant: true, render: () => fixed };
      }
      return { constant: false, render: (context) => items.map((item) => item.render(context)) };
    }
    if (node !== null && typeof node === 'object') {
      const entries = Object.entries(node).map(([key, item]) => [key, visit(item, [...path, key])] as const);
      if (entries.every(([, item]) => item.constant)) {
        const fixed = Object.fromEntries(entries.map(([key, item]) => [key, item.render(undefined as unknown as TemplateContext)]));
        return { constant: true, render: () => fixed };
      }
      return {
        constant: false,
        render: (context) => {
          const out: Record<string, unknown> = {};
          for (const [key, item] of entries) out[key] = item.render(context);
          return out;
        },
      };
    }
    const scalar = node ?? null;
    return { constant: true, render: () => scalar };
  };
  return visit(value, []).render;
}
