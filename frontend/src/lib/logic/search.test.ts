import { describe, expect, it } from 'vitest';
import type { OperationSpec } from '../api/types';
import { fuzzyScore, searchOperations } from './search';

const op = (name: string, category: string, summary = ''): OperationSpec => ({ name, category, summary, params: [] });
const ops = [
  op('list_processes', 'processes', 'List processes across the cluster'),
  op('kill_process', 'processes', 'Kill one process'),
  op('node_crash', 'simulator', 'Crash a virtual node'),
  op('list_nodes', 'cluster', 'List the members'),
  op('partition', 'simulator', 'Split the network into groups'),
];

describe('fuzzyScore', () => {
  it('needs every character in order', () => {
    expect(fuzzyScore('lp', 'list_processes')).toBeGreaterThan(0);
    expect(fuzzyScore('pl', 'list')).toBe(-1);
    expect(fuzzyScore('', 'x')).toBe(0);
  });
  it('prefers substrings and word starts', () => {
    expect(fuzzyScore('proc', 'list_processes')).toBeGreaterThan(fuzzyScore('lses', 'list_processes'));
    expect(fuzzyScore('list', 'list_nodes')).toBeGreaterThan(fuzzyScore('ist', 'list_nodes'));
  });
});

describe('searchOperations', () => {
  it('lists all by category then name for an empty query', () => {
    expect(searchOperations(ops, '').map((o) => o.name)).toEqual([
      'list_nodes',
      'kill_process',
      'list_processes',
      'node_crash',
      'partition',
    ]);
  });
  it('ranks name matches first', () => {
    expect(searchOperations(ops, 'kill')[0].name).toBe('kill_process');
    expect(searchOperations(ops, 'crash')[0].name).toBe('node_crash');
  });
  it('every word must match', () => {
    expect(searchOperations(ops, 'list proc').map((o) => o.name)).toEqual(['list_processes']);
    expect(searchOperations(ops, 'zzz')).toEqual([]);
  });
  it('matches the summary', () => {
    expect(searchOperations(ops, 'network').map((o) => o.name)).toEqual(['partition']);
  });
});
