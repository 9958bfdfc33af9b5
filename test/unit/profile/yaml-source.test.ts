import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProfileError } from '../../../src/errors.ts';
import { YamlSource } from '../../../src/profile/yaml-source.ts';

/** Line and column (1-based) of `needle` in `text`, to compare with what positionOf reports. */
function where(text: string, needle: string): { line: number; column: number } {
  const at = text.indexOf(needle);
  assert.ok(at >= 0, `${needle} not in the text`);
  const before = text.slice(0, at).split('\n');
  return { line: before.length, column: (before[before.length - 1] ?? '').length + 1 };
}

function positionAt(text: string, path: (string | number)[], needle: string): { line: number; column: number } {
  const source = YamlSource.parse(text, 'x.yaml');
  const value = path.reduce<unknown>((node, key) => (node as Record<string | number, unknown>)[key], source.data) as string;
  const offsetInValue = value.indexOf(needle);
  assert.ok(offsetInValue >= 0, `${needle} not in the parsed value`);
  const { line, column } = source.positionOf(path, false, offsetInValue);
  return { line, column };
}

test('an offset inside a plain, quoted or escaped scalar maps back to the source column', () => {
  const text = ['a: x {{ bad }}', 'b: "q {{ bad }}"', 'c: "\\u00e9\\t\\"z\\" {{ bad }}"', "d: 'it''s {{ bad }}'", ''].join('\n');
  assert.deepEqual(positionAt(text, ['a'], 'bad'), where(text, 'bad'));
  assert.deepEqual(positionAt(text, ['b'], 'bad'), { line: 2, column: where(text.split('\n')[1] ?? '', 'bad').column });
  assert.deepEqual(positionAt(text, ['c'], 'bad'), { line: 3, column: where(text.split('\n')[2] ?? '', 'bad').column });
  assert.deepEqual(positionAt(text, ['d'], 'bad'), { line: 4, column: where(text.split('\n')[3] ?? '', 'bad').column });
});

test('an offset inside a block scalar lands on its line and column', () => {
  const text = ['body: |', '  first line', '    indented {{ bad }}', 'other: 1', ''].join('\n');
  assert.deepEqual(positionAt(text, ['body'], 'bad'), { line: 3, column: 17 });
  const folded = ['body: >-', '', '  one', '  two {{ bad }}', ''].join('\n');
  assert.deepEqual(positionAt(folded, ['body'], 'bad'), { line: 4, column: 10 });
});

test('an empty file says so', () => {
  assert.throws(
    () => YamlSource.parse('# only a comment\n', 'empty.yaml'),
    (error: unknown) => error instanceof ProfileError && /empty\.yaml: the file is empty/.test(error.message),
  );
});

test('every scalar style maps a value offset back to the exact source character', () => {
  const documents: Record<string, string> = {
    'double-quoted over two lines': 'v: "/x/aaaa\n    bbbb/{{ nope }}"\n',
    'escaped line break in double quotes': 'v: "/x\\\n    /{{ nope }}"\n',
    'plain over two lines': 'v: /x/aaaa\n  bb/{{ nope }}\n',
    'plain with a blank line': 'v: /x/aaaa\n\n  bb/{{ nope }}\n',
    'single-quoted over lines with a doubled quote': "v: 'it''s\n   then   \n  {{ nope }}'\n",
    'astral escape': 'v: "\\U0001F600 \\x41 \\u00e9 \\t {{ nope }}"\n',
    'folded with a blank line': 'v: >\n  line one\n\n  two {{ nope }}\n',
    'folded with more-indented lines': 'v: >-\n  a\n    b\n  c {{ nope }}\n',
    'folded with leading blank lines': 'v: >\n\n\n  a\n  b {{ nope }}\n',
    'literal with CRLF': 'v: |\r\n  one\r\n  two\r\n  three {{ nope }}\r\n',
    'literal with keep chomping and indentation': 'v: |+\n    a\n      b\n    {{ nope }}\n\n',
    'double-quoted with CRLF folding': 'v: "a\r\n  b {{ nope }}"\r\n',
  };
  for (const [name, text] of Object.entries(documents)) {
    const source = YamlSource.parse(text, 'x.yaml');
    const value = (source.data as { v: string }).v;
    const inValue = value.indexOf('nope');
    assert.ok(inValue >= 0, `${name}: the value ${JSON.stringify(value)} lost the marker`);
    const { line, column } = source.positionOf(['v'], false, inValue);
    assert.deepEqual({ line, column }, where(text.replaceAll('\r', ''), 'nope'), name);
  }
});
