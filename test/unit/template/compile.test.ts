import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deviceRandom } from '../../../src/identity/rng.ts';
import { compileJsonBody, compileTemplate, TemplateError } from '../../../src/template/compile.ts';
import type { CompiledTemplate } from '../../../src/template/compile.ts';
import type { TemplateContext } from '../../../src/template/context.ts';
import type { SlotAllocator } from '../../../src/template/functions.ts';

/** Hands out walk slots the way the device-model loader does, remembering their bounds. */
class Slots implements SlotAllocator {
  readonly walks: { min: number; max: number }[] = [];
  constructor(
    private readonly env: Record<string, string> = {},
    private readonly variables: readonly string[] = [],
  ) {}
  allocateWalk(min: number, max: number): number {
    this.walks.push({ min, max });
    return this.walks.length - 1;
  }
  environment(name: string): string {
    const value = this.env[name];
    if (value === undefined) throw new Error(`environment variable ${name} is not set`);
    return value;
  }
  variable(name: string): number {
    const slot = this.variables.indexOf(name);
    if (slot < 0) throw new Error(`no task captures '${name}'`);
    return slot;
  }
  readonly columns: string[] = [];
  data(name: string): number {
    if (!this.columns.includes(name)) this.columns.push(name);
    return this.columns.indexOf(name);
  }
}

function contextFor(seed: string, index: number, slots = new Slots()): TemplateContext {
  const walks = slots.walks.map((walk) => (walk.min + walk.max) / 2);
  return { deviceId: `dev-${index}`, deviceIndex: index, deviceModel: 'probe', seq: 7, random: deviceRandom(seed, index), walks, vars: [], repeatIndex: 0, data: [], timeMs: 0 };
}

function compile(text: string, slots = new Slots()): CompiledTemplate {
  return compileTemplate(text, slots);
}

function compileError(text: string): TemplateError {
  try {
    compile(text);
  } catch (error) {
    assert.ok(error instanceof TemplateError, `expected a TemplateError, got ${String(error)}`);
    return error;
  }
  assert.fail(`'${text}' compiled but should not`);
}

describe('template fields', () => {
  test('device fields and the sequence number render into text', () => {
    const template = compile('/greet?id={{ device.id }}&i={{device.index}}&m={{ device.model }}&seq={{ seq }}');
    assert.equal(template.evaluate(contextFor('1', 3)), '/greet?id=dev-3&i=3&m=probe&seq=7');
  });

  test('text without an expression is a pre-computed constant', () => {
    const template = compile('/health');
    assert.equal(template.constant, '/health');
    assert.equal(template.evaluate(contextFor('1', 0)), '/health');
    assert.equal(compile('').constant, '');
  });

  test('a value that is one template keeps its type', () => {
    const context = contextFor('1', 4);
    assert.equal(compile('{{ device.index }}').evaluate(context), 4);
    assert.equal(typeof compile('{{ float(1, 2) }}').evaluate(context), 'number');
    assert.equal(typeof compile('{{ bool() }}').evaluate(context), 'boolean');
    assert.equal(compile('n={{ device.index }}').evaluate(context), 'n=4');
  });
});

describe('template functions', () => {
  test('int stays inside its inclusive bounds and reaches both ends', () => {
    const template = compile('{{ int(3, 6) }}');
    const context = contextFor('seed', 0);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const value = template.evaluate(context);
      assert.ok(Number.isInteger(value) && (value as number) >= 3 && (value as number) <= 6, `int out of range: ${String(value)}`);
      seen.add(value as number);
    }
    assert.deepEqual([...seen].sort(), [3, 4, 5, 6]);
  });

  test('float respects its bounds and precision', () => {
    const oneDecimal = compile('{{ float(20.0, 25.0, 1) }}');
    const defaultPrecision = compile('{{ float(0, 1) }}');
    const context = contextFor('seed', 1);
    for (let i = 0; i < 1000; i++) {
      const a = oneDecimal.evaluate(context) as number;
      assert.ok(a >= 20 && a <= 25, `float out of range: ${a}`);
      assert.equal(a, Math.round(a * 10) / 10);
      const b = defaultPrecision.evaluate(context) as number;
      assert.equal(b, Math.round(b * 100) / 100);
    }
  });

  test('pick chooses among its literal arguments, keeping their types', () => {
    const template = compile(`{{ pick('red', "green", 3, true) }}`);
    const context = contextFor('seed', 2);
    const seen = new Set<unknown>();
    for (let i = 0; i < 500; i++) seen.add(template.evaluate(context));
    assert.deepEqual(new Set(seen), new Set(['red', 'green', 3, true]));
  });

  test('bool follows its probability', () => {
    const template = compile('{{ bool(0.25) }}');
    const context = contextFor('seed', 3);
    let trues = 0;
    const draws = 40_000;
    for (let i = 0; i < draws; i++) if (template.evaluate(context) === true) trues++;
    // Binomial sd is about 0.0022 here; 0.01 is more than four of them.
    assert.ok(Math.abs(trues / draws - 0.25) < 0.01, `bool(0.25) was true ${trues} of ${draws}`);
    assert.equal(compile('{{ bool(0) }}').evaluate(context), false);
    assert.equal(compile('{{ bool(1) }}').evaluate(context), true);
  });

  test('walk drifts by at most its step and never leaves its bounds', () => {
    const slots = new Slots();
    const template = compile('{{ walk(18, 30, 0.5, 2) }}', slots);
    const context = contextFor('seed', 4, slots);
    let previous = context.walks[0] as number;
    let moved = 0;
    for (let i = 0; i < 5000; i++) {
      const value = template.evaluate(context) as number;
      assert.ok(value >= 18 && value <= 30, `walk left its bounds: ${value}`);
      // The rendered value is rounded; the walk's state is not.
      const state = context.walks[0] as number;
      assert.ok(Math.abs(state - previous) <= 0.5 + 1e-9, `walk jumped from ${previous} to ${state}`);
      assert.ok(Math.abs(value - state) <= 0.005 + 1e-9);
      if (state !== previous) moved++;
      previous = state;
    }
    assert.ok(moved > 4000, 'a walk with a positive step should move');
  });

  test('two walks in one model have their own state', () => {
    const slots = new Slots();
    compile('{{ walk(0, 10, 1) }}', slots);
    compile('{{ walk(100, 200, 1) }}', slots);
    assert.deepEqual(slots.walks, [
      { min: 0, max: 10 },
      { min: 100, max: 200 },
    ]);
  });

  test('uuid has the v4 shape and hex has its length', () => {
    const context = contextFor('seed', 5);
    assert.match(compile('{{ uuid() }}').evaluate(context) as string, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.match(compile('{{ hex(12) }}').evaluate(context) as string, /^[0-9a-f]{12}$/);
  });

  test('the same seed and device give the same values; another device does not', () => {
    const text = '{{ int(0, 1000000) }}-{{ float(0, 1, 6) }}-{{ uuid() }}';
    const render = (seed: string, index: number): string[] => {
      const template = compile(text);
      const context = contextFor(seed, index);
      return Array.from({ length: 20 }, () => template.evaluate(context) as string);
    };
    assert.deepEqual(render('42', 9), render('42', 9));
    assert.notDeepEqual(render('42', 9), render('42', 10));
    assert.notDeepEqual(render('42', 9), render('43', 9));
  });
});

describe('template errors', () => {
  test('an unknown function names itself and where it starts', () => {
    const error = compileError('/x/{{ nope(1) }}');
    assert.match(error.message, /unknown function 'nope'/);
    assert.equal(error.offset, '/x/{{ '.length);
  });

  test('an unknown field names itself', () => {
    const error = compileError('{{ device.secret }}');
    assert.match(error.message, /unknown field 'device.secret'/);
    assert.equal(error.offset, 3);
  });

  test('nothing outside the template context is reachable', () => {
    for (const text of ['{{ process.env.HOME }}', '{{ constructor }}', '{{ globalThis }}', '{{ require("fs") }}', '{{ __proto__ }}', '{{ toString() }}']) {
      assert.throws(() => compile(text), TemplateError, text);
    }
  });

  test('malformed expressions are rejected with a position', () => {
    const cases: [string, RegExp, number][] = [
      ['{{ int(1, 2 }}', /expected ',' or '\)'/, 12],
      ['{{ int(1, 2) + 3 }}', /unexpected '\+ 3'/, 13],
      ['abc {{ seq', /without a closing/, 4],
      ["{{ pick('a) }}", /unterminated string/, 8],
      ['{{ int(+, 2) }}', /numbers, quoted strings/, 7],
      ['{{ int(a, 2) }}', /unknown field 'a'/, 7],
      ['{{ }}', /expected a field/, 3],
    ];
    for (const [text, message, offset] of cases) {
      const error = compileError(text);
      assert.match(error.message, message, text);
      assert.equal(error.offset, offset, `offset for ${text}`);
    }
  });

  test('bad arguments are load-time errors', () => {
    assert.match(compileError('{{ int(1) }}').message, /takes 2 arguments, got 1/);
    assert.match(compileError('{{ int(5, 1) }}').message, /must not exceed/);
    assert.match(compileError('{{ int(1.5, 3) }}').message, /integers/);
    assert.match(compileError('{{ float(0, 1, 20) }}').message, /decimals/);
    assert.match(compileError('{{ bool(2) }}').message, /probability/);
    assert.match(compileError('{{ walk(0, 10, -1) }}').message, /step/);
    assert.match(compileError('{{ hex(0) }}').message, /digits/);
    assert.match(compileError("{{ int('1', 2) }}").message, /argument 1 must be a number/);
    // Fields and calls are arguments only where the function takes a per-message value.
    assert.match(compileError('{{ int(device.index, 2) }}').message, /argument 1 must be a literal .* not device\.index/);
  });
});

describe('JSON bodies', () => {
  test('literal parts are kept and template leaves keep their type', () => {
    const slots = new Slots();
    const render = compileJsonBody(
      { id: '{{ device.id }}', temperature: '{{ float(20, 20, 1) }}', label: 'n-{{ device.index }}', ok: true, tags: ['a', 1, null], nested: { seq: '{{ seq }}' } },
      (leaf) => compileTemplate(leaf.text, slots),
    );
    const body = render(contextFor('1', 2, slots));
    assert.equal(body, '{"id":"dev-2","temperature":20,"label":"n-2","ok":true,"tags":["a",1,null],"nested":{"seq":7}}');
    assert.deepEqual(JSON.parse(body), { id: 'dev-2', temperature: 20, label: 'n-2', ok: true, tags: ['a', 1, null], nested: { seq: 7 } });
  });

  test('strings that need escaping stay valid JSON', () => {
    const render = compileJsonBody({ 'quote"key': 'line\nbreak "{{ device.id }}"' }, (leaf) => compileTemplate(leaf.text, new Slots()));
    assert.deepEqual(JSON.parse(render(contextFor('1', 0))), { 'quote"key': 'line\nbreak "dev-0"' });
  });

  test('a body without templates is rendered once', () => {
    let compiled = 0;
    const render = compileJsonBody({ a: 'b', c: [1, 2] }, (leaf) => {
      compiled++;
      return compileTemplate(leaf.text, new Slots());
    });
    assert.equal(compiled, 1);
    assert.equal(render(contextFor('1', 0)), '{"a":"b","c":[1,2]}');
  });

  test('a leaf error reports the leaf path', () => {
    const paths: (string | number)[][] = [];
    assert.throws(
      () =>
        compileJsonBody({ outer: { list: ['ok', '{{ bad() }}'] } }, (leaf) => {
          paths.push([...leaf.path]);
          return compileTemplate(leaf.text, new Slots());
        }),
      TemplateError,
    );
    assert.deepEqual(paths.at(-1), ['outer', 'list', 1]);
  });
});

describe('environment references, captured variables and repetitions', () => {
  test('env.NAME is read once at load; vars.NAME reads the device slot; repeat counts from 0 and from 1', () => {
    const slots = new Slots({ TOKEN: 's3cret' }, ['access', 'count']);
    const context = { ...contextFor('1', 0, slots), vars: ['tok-1', 42], repeatIndex: 4 };
    assert.equal(compile('Bearer {{ env.TOKEN }}', slots).evaluate(context), 'Bearer s3cret');
    assert.equal(compile('Bearer {{ $env.TOKEN }}', slots).evaluate(context), 'Bearer s3cret', "k6's spelling");
    assert.equal(compile('Bearer {{ vars.access }}', slots).evaluate(context), 'Bearer tok-1');
    // A captured number stays a number in a single-template JSON leaf.
    assert.equal(compile('{{ vars.count }}', slots).evaluate(context), 42);
    assert.equal(compile('/products/{{ repeat.number }}/{{ repeat.index }}', slots).evaluate(context), '/products/5/4');
  });

  test('an unset environment variable or an uncaptured name is a load-time error at the reference', () => {
    const slots = new Slots({}, ['access']);
    assert.throws(
      () => compile('x {{ env.NOPE }}', slots),
      (error: unknown) => error instanceof TemplateError && error.offset === 5 && /environment variable NOPE is not set/.test(error.message),
    );
    assert.throws(() => compile('{{ vars.refresh }}', slots), /no task captures 'refresh'/);
  });

  test('data.NAME reads the device row by slot; a misspelt function or field is answered with the likely name', () => {
    const slots = new Slots();
    const template = compile('{{ data.site }}/{{ data.key }}', slots);
    assert.deepEqual(slots.columns, ['site', 'key']);
    assert.equal(template.evaluate({ ...contextFor('1', 0, slots), data: ['north', 'k-1'] }), 'north/k-1');
    assert.throws(() => compile('{{ flaot(0, 1, 2) }}', slots), /unknown function 'flaot' \(did you mean 'float'\?\)/);
    assert.throws(() => compile('{{ device.idx }}', slots), /unknown field 'device\.idx' \(did you mean 'device\.id'\?\)/);
    assert.throws(() => compile('{{ zzz() }}', slots), /unknown function 'zzz' \(known: int, /);
  });
});

describe('wall-clock time', () => {
  test('now() and nowMs() render one time per attempt, taken at first use, and draw nothing from the stream', () => {
    const context = contextFor('1', 0);
    const before = Date.now();
    const rendered = compile('{{ now() }}|{{ nowMs() }}|{{ now() }}').evaluate(context) as string;
    const [iso, ms, again] = rendered.split('|');
    assert.ok(context.timeMs >= before && context.timeMs <= Date.now());
    assert.equal(ms, String(context.timeMs));
    assert.equal(iso, new Date(context.timeMs).toISOString());
    assert.equal(again, iso);
    assert.equal(compile('{{ nowMs() }}').evaluate(context), context.timeMs, 'a lone nowMs() keeps its number type');
    // The seeded stream is untouched: the next draw is the stream's first.
    assert.equal(context.random(), deviceRandom('1', 0)());
    // A reset time is taken again, not kept at 0.
    context.timeMs = 0;
    const retaken = compile('{{ nowMs() }}').evaluate(context);
    assert.ok(typeof retaken === 'number' && retaken >= before, `a fresh time: ${String(retaken)}`);
    assert.equal(retaken, context.timeMs);
    assert.throws(() => compile('{{ now(1) }}'), /now\(\) takes 0 arguments, got 1/);
    assert.throws(() => compile('{{ nowms() }}'), /did you mean 'nowMs'/);
  });
});
