import { describe, expect, it } from 'vitest';
import type { ParamSpec } from '../api/types';
import {
  checkValue,
  fieldsFor,
  formatDuration,
  initialValues,
  parseDuration,
  printDefault,
  serverErrorsToFields,
  validateForm,
  validateNodeName,
} from './forms';

const p = (over: Partial<ParamSpec> & Pick<ParamSpec, 'type'>): ParamSpec => ({ name: 'x', ...over });

describe('parseDuration', () => {
  it.each([
    ['250ms', 0.25],
    ['2s', 2],
    ['1m30s', 90],
    ['1h', 3600],
    ['1.5s', 1.5],
    ['0', 0],
    ['-2s', -2],
    ['10us', 1e-5],
    ['3µs', 3e-6],
    ['.5s', 0.5],
  ])('parseDuration(%s) = %s', (s, want) => {
    expect(parseDuration(s)).toBeCloseTo(want, 9);
  });
  it.each(['', '5', 's', '2x', '1s2', '--1s', 'abc'])('parseDuration(%j) = null', (s) => {
    expect(parseDuration(s)).toBeNull();
  });
  it('formatDuration prints seconds', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(0.25)).toBe('250ms');
    expect(formatDuration(60)).toBe('60s');
  });
});

describe('validateNodeName', () => {
  it.each([
    ['node-1', ''],
    ['', 'node name is empty'],
    ['a/b', 'forbidden character'],
    ['a b', 'forbidden character'],
    ['x'.repeat(129), 'more than 128'],
  ])('validateNodeName(%j)', (name, want) => {
    const got = validateNodeName(name);
    if (want === '') expect(got).toBe('');
    else expect(got).toContain(want);
  });
});

describe('checkValue', () => {
  const ctx = { nodes: ['node-1', 'node-2'] };
  const cases: { name: string; param: ParamSpec; raw: unknown; value?: unknown; error?: string }[] = [
    { name: 'int coerced', param: p({ type: 'int' }), raw: ' 5 ', value: 5 },
    { name: 'int not a number', param: p({ type: 'int' }), raw: 'five', error: 'want an integer, got "five"' },
    { name: 'int fraction', param: p({ type: 'int' }), raw: '1.5', error: 'want an integer' },
    { name: 'int below min', param: p({ type: 'int', min: 1 }), raw: '0', error: '0 is below the minimum 1' },
    { name: 'int above max', param: p({ type: 'int', max: 10000 }), raw: '10001', error: '10001 is above the maximum 10000' },
    { name: 'float', param: p({ type: 'float', min: 0, max: 1 }), raw: '0.2', value: 0.2 },
    { name: 'float above', param: p({ type: 'float', min: 0, max: 1 }), raw: '1.5', error: '1.5 is above the maximum 1' },
    { name: 'float junk', param: p({ type: 'float' }), raw: 'x', error: 'want a number' },
    { name: 'bool true', param: p({ type: 'bool' }), raw: 'TRUE', value: true },
    { name: 'bool 0', param: p({ type: 'bool' }), raw: '0', value: false },
    { name: 'bool junk', param: p({ type: 'bool' }), raw: 'yes', error: 'want true or false, got "yes"' },
    { name: 'duration', param: p({ type: 'duration' }), raw: '2s', value: '2s' },
    { name: 'duration bare number', param: p({ type: 'duration' }), raw: '5', error: 'want a duration like 250ms or 2s' },
    { name: 'duration negative', param: p({ type: 'duration' }), raw: '-1s', error: 'is negative' },
    { name: 'duration above max', param: p({ type: 'duration', max: 60 }), raw: '2m', error: '2m is above the maximum 60s' },
    { name: 'pid', param: p({ type: 'pid' }), raw: 'node-1/4', value: 'node-1/4' },
    { name: 'pid no id', param: p({ type: 'pid' }), raw: 'node-1', error: 'want a pid like node-1/4' },
    { name: 'pid bad id', param: p({ type: 'pid' }), raw: 'node-1/x', error: 'want a pid like node-1/4' },
    { name: 'node known', param: p({ type: 'node' }), raw: 'node-2', value: 'node-2' },
    { name: 'node unknown', param: p({ type: 'node' }), raw: 'node-9', error: 'unknown node "node-9" (known: node-1, node-2)' },
    { name: 'node bad char', param: p({ type: 'node' }), raw: 'a/b', error: 'want a node name' },
    { name: 'enum ok', param: p({ type: 'enum', enum: ['a', 'b'] }), raw: 'b', value: 'b' },
    { name: 'enum bad', param: p({ type: 'enum', enum: ['a', 'b'] }), raw: 'c', error: '"c" is not one of a, b' },
    { name: 'string pattern', param: p({ type: 'string', pattern: '[a-z]+' }), raw: 'abc', value: 'abc' },
    { name: 'string pattern bad', param: p({ type: 'string', pattern: '[a-z]+' }), raw: 'ab1', error: 'does not match the pattern [a-z]+' },
    { name: 'string too long', param: p({ type: 'string', max_len: 3 }), raw: 'abcd', error: 'string is 4 bytes, more than 3' },
    { name: 'string too short', param: p({ type: 'string', min_len: 2 }), raw: 'a', error: 'fewer than 2' },
    { name: 'list csv', param: p({ type: 'list', items: 'node' }), raw: 'node-1, node-2', value: ['node-1', 'node-2'] },
    { name: 'list bad element', param: p({ type: 'list', items: 'node' }), raw: 'node-1,node-7', error: 'element 1: unknown node "node-7"' },
    { name: 'list json', param: p({ type: 'list', items: 'int' }), raw: '[1, "2"]', value: [1, 2] },
    { name: 'list bad json', param: p({ type: 'list', items: 'int' }), raw: '[1,', error: 'want a JSON array' },
    { name: 'list of lists', param: p({ type: 'list', items: 'list:node' }), raw: 'node-1;node-2', value: [['node-1'], ['node-2']] },
    {
      name: 'list of lists json',
      param: p({ type: 'list', items: 'list:node' }),
      raw: '[["node-1","node-2"],["node-3"]]',
      error: 'element 1: element 0: unknown node "node-3"',
    },
    { name: 'list too long', param: p({ type: 'list', items: 'string', max_len: 1 }), raw: 'a,b', error: 'list has 2 elements, more than 1' },
    { name: 'list too short', param: p({ type: 'list', items: 'string', min_len: 2 }), raw: 'a', error: 'fewer than 2' },
    { name: 'object', param: p({ type: 'object' }), raw: '{"a": 1}', value: { a: 1 } },
    { name: 'object bad json', param: p({ type: 'object' }), raw: '{a}', error: 'want a JSON object' },
    { name: 'object not object', param: p({ type: 'object' }), raw: '[1]', error: 'want a JSON object, got the string' },
  ];
  it.each(cases)('$name', ({ param, raw, value, error }) => {
    const got = checkValue(param, param.type, param.items ?? '', raw, ctx);
    if (error !== undefined) {
      expect(got.error).toBeDefined();
      expect(got.error).toContain(error);
    } else {
      expect(got.error).toBeUndefined();
      expect(got.value).toEqual(value);
    }
  });
});

describe('validateForm', () => {
  const params: ParamSpec[] = [
    { name: 'pid', type: 'pid', required: true },
    { name: 'reason', type: 'string', default: 'killed', min_len: 1 },
    { name: 'limit', type: 'int', min: 1, max: 10000, default: 100 },
  ];
  it('reports a missing required param and sends nothing for it', () => {
    const v = validateForm(params, { pid: '', reason: 'killed', limit: '' });
    expect(v.ok).toBe(false);
    expect(v.errors).toEqual({ pid: 'required pid parameter is missing' });
  });
  it('builds params, leaving empty optional ones out', () => {
    const v = validateForm(params, { pid: 'node-1/3', reason: '', limit: '5' });
    expect(v).toEqual({ ok: true, errors: {}, params: { pid: 'node-1/3', limit: 5 } });
  });
  it('collects every invalid field', () => {
    const v = validateForm(params, { pid: 'nope', limit: '0' });
    expect(Object.keys(v.errors).sort()).toEqual(['limit', 'pid']);
  });
});

describe('fieldsFor', () => {
  it('chooses inputs by type and prints defaults', () => {
    const fields = fieldsFor(
      [
        { name: 'a', type: 'enum', enum: ['x', 'y'], default: 'x' },
        { name: 'b', type: 'bool', default: false },
        { name: 'c', type: 'node', required: true, description: 'the node' },
        { name: 'd', type: 'list', items: 'list:node' },
        { name: 'e', type: 'int', min: 1, max: 5 },
        { name: 'f', type: 'object' },
        { name: 'script', type: 'string' },
      ],
      { nodes: ['n1'] },
    );
    expect(fields.map((f) => f.kind)).toEqual(['select', 'bool', 'text', 'textarea', 'number', 'textarea', 'textarea']);
    expect(fields[0].options).toEqual(['x', 'y']);
    expect(fields[2].suggestions).toEqual(['n1']);
    expect(fields[2].required).toBe(true);
    expect(fields[2].help).toContain('the node');
    expect(fields[4].help).toContain('1…5');
    expect(initialValues(fields)).toEqual({ a: 'x', b: 'false', c: '', d: '', e: '', f: '', script: '' });
  });
  it('printDefault', () => {
    expect(printDefault(['a', 'b'])).toBe('a,b');
    expect(printDefault({ a: 1 })).toBe('{"a":1}');
    expect(printDefault(null)).toBe('');
  });
});

describe('serverErrorsToFields', () => {
  it('maps known params to fields and the rest to the form', () => {
    expect(
      serverErrorsToFields(
        [
          { param: 'limit', message: 'too big' },
          { param: 'bogus', message: 'unknown parameter' },
        ],
        ['limit'],
      ),
    ).toEqual({ limit: 'too big', '': 'bogus: unknown parameter' });
  });
});
