import { describe, expect, it } from 'vitest';
import { assignmentFromGroups, groupsFromAssignment, partitionProblem, splitHalf } from './partition';

describe('partition builder', () => {
  it('groups in group order, sorted, empty groups gone', () => {
    expect(groupsFromAssignment({ c: 3, a: 1, b: 3, d: 1 })).toEqual([
      ['a', 'd'],
      ['b', 'c'],
    ]);
    expect(groupsFromAssignment({ a: 0, b: 1.5 })).toEqual([]);
  });
  it('needs two groups', () => {
    expect(partitionProblem({ a: 1, b: 1 })).toContain('at least two groups');
    expect(partitionProblem({ a: 1, b: 2 })).toBe('');
  });
  it('presets', () => {
    expect(splitHalf(['n3', 'n1', 'n2', 'n4', 'n5'])).toEqual({ n1: 1, n2: 1, n3: 1, n4: 2, n5: 2 });
    expect(assignmentFromGroups(['a', 'b', 'c'], [['a'], ['b', 'x']])).toEqual({ a: 1, b: 2, c: 1 });
  });
});
