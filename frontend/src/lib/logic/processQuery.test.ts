import { describe, expect, it } from 'vitest';
import { EMPTY_FILTERS, buildQuery, filterProblems, filtersEqual, nextSort, parseFilterText } from './processQuery';

describe('buildQuery', () => {
  it('leaves out empty filters and the default sort', () => {
    expect(buildQuery(EMPTY_FILTERS, { field: 'pid', desc: false }, 200)).toEqual({ limit: 200 });
  });
  it('trims filters, keeps sort and cursor, clamps the limit', () => {
    expect(
      buildQuery({ ...EMPTY_FILTERS, node: ' node-1 ', behavior: 'echo' }, { field: 'mailbox', desc: true }, 1e6, 'CUR'),
    ).toEqual({ node: 'node-1', behavior: 'echo', sort: 'mailbox', desc: true, limit: 10000, cursor: 'CUR' });
    expect(buildQuery(EMPTY_FILTERS, { field: 'pid', desc: false }, 0).limit).toBe(1);
  });
});

describe('nextSort', () => {
  it.each([
    [{ field: 'pid', desc: false }, 'pid', { field: 'pid', desc: true }],
    [{ field: 'pid', desc: true }, 'pid', { field: 'pid', desc: false }],
    [{ field: 'pid', desc: false }, 'node', { field: 'node', desc: false }],
    [{ field: 'node', desc: false }, 'mailbox', { field: 'mailbox', desc: true }],
    [{ field: 'node', desc: false }, 'messages_in', { field: 'messages_in', desc: true }],
  ] as const)('from %j click %s', (cur, click, want) => {
    expect(nextSort({ ...cur }, click)).toEqual(want);
  });
});

describe('parseFilterText', () => {
  it('reads key:value words and the rest as the name', () => {
    expect(parseFilterText('node:node-2 behaviour:echo status:waiting label:a=b foo')).toEqual({
      node: 'node-2',
      behavior: 'echo',
      status: 'waiting',
      label: 'a=b',
      name: 'foo',
    });
    expect(parseFilterText('  ')).toEqual(EMPTY_FILTERS);
  });
});

describe('filterProblems', () => {
  it('flags a label without = and a node with a slash', () => {
    expect(filterProblems({ ...EMPTY_FILTERS, label: 'oops', node: 'n/1' })).toEqual({
      label: 'a label filter is key=value, e.g. sandbox=demo',
      node: 'a node name has no "/" (that is a pid)',
    });
    expect(filterProblems({ ...EMPTY_FILTERS, label: 'k=v' })).toEqual({});
  });
  it('filtersEqual ignores surrounding space', () => {
    expect(filtersEqual({ ...EMPTY_FILTERS, name: ' a' }, { ...EMPTY_FILTERS, name: 'a ' })).toBe(true);
    expect(filtersEqual({ ...EMPTY_FILTERS, name: 'a' }, EMPTY_FILTERS)).toBe(false);
  });
});
