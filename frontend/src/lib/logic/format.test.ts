import { describe, expect, it } from 'vitest';
import { asTable, cell, formatAge, formatBytes, formatCount, formatRTT } from './format';

describe('format', () => {
  it('counts and bytes', () => {
    expect(formatCount(100000)).toBe('100,000');
    expect(formatCount(undefined)).toBe('–');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GiB');
  });
  it('ages and rtts', () => {
    const now = Date.parse('2025-01-01T00:10:00Z');
    expect(formatAge('2025-01-01T00:09:55Z', now)).toBe('5s');
    expect(formatAge('2025-01-01T00:00:00Z', now)).toBe('10m0s');
    expect(formatAge('0001-01-01T00:00:00Z', now)).toBe('–');
    expect(formatAge(undefined, now)).toBe('–');
    expect(formatRTT(250_000)).toBe('250µs');
    expect(formatRTT(2_500_000)).toBe('2.5ms');
  });
});

describe('asTable', () => {
  it('a list of objects is a table', () => {
    expect(asTable([{ a: 1 }, { a: 2, b: 3 }])).toEqual({ columns: ['a', 'b'], rows: [{ a: 1 }, { a: 2, b: 3 }], path: '' });
  });
  it('finds the largest list field of an object', () => {
    const t = asTable({ total: 2, processes: [{ pid: 'n/1' }, { pid: 'n/2' }], missing: [{ node: 'x' }] });
    expect(t?.path).toBe('processes');
    expect(t?.rows).toHaveLength(2);
  });
  it('no table in scalars or mixed lists', () => {
    expect(asTable({ ok: true })).toBeNull();
    expect(asTable([1, 2])).toBeNull();
    expect(asTable([])).toBeNull();
  });
  it('cells', () => {
    expect(cell(null)).toBe('');
    expect(cell({ a: 1 })).toBe('{"a":1}');
    expect(cell('x'.repeat(100), 10)).toBe(`${'x'.repeat(10)}…`);
  });
});

import { groupBy, listField } from './format';

describe('listField / groupBy', () => {
  it('finds lists', () => {
    expect(listField([1, 2])).toEqual([1, 2]);
    expect(listField({ children: [{ a: 1 }] }, 'items', 'children')).toEqual([{ a: 1 }]);
    expect(listField({ x: 1 }, 'children')).toEqual([]);
    expect(listField(null)).toEqual([]);
  });
  it('groups by key in key order', () => {
    expect(groupBy([{ n: 'b' }, { n: 'a' }, { n: 'b' }], (x) => x.n)).toEqual([
      ['a', [{ n: 'a' }]],
      ['b', [{ n: 'b' }, { n: 'b' }]],
    ]);
  });
});
