import { describe, expect, it } from 'vitest';
import { appendPoint, resourcePoint } from './resources';

describe('resources', () => {
  it('reads a sample from the result or its resources field', () => {
    expect(resourcePoint({ cpu_percent: 12.5, mem_used_percent: 40, time: '2025-01-01T00:00:10Z' }, 5)).toEqual({
      t: Date.parse('2025-01-01T00:00:10Z') / 1000,
      cpu: 12.5,
      mem: 40,
      load1: null,
    });
    expect(resourcePoint({ resources: { load1: 0.5 } }, 7)).toEqual({ t: 7, cpu: null, mem: null, load1: 0.5 });
    expect(resourcePoint({ nothing: 1 }, 7)).toBeNull();
    expect(resourcePoint('x', 7)).toBeNull();
  });
  it('keeps a sliding window in time order', () => {
    let s = appendPoint([], { t: 1, cpu: 1, mem: 1, load1: null }, 10);
    s = appendPoint(s, { t: 1, cpu: 2, mem: 2, load1: null }, 10);
    expect(s).toHaveLength(1);
    s = appendPoint(s, { t: 5, cpu: 2, mem: 2, load1: null }, 10);
    s = appendPoint(s, { t: 12, cpu: 3, mem: 3, load1: null }, 10);
    expect(s.map((p) => p.t)).toEqual([5, 12]);
  });
});
