import { describe, expect, it } from 'vitest';
import { coalesce, throttled } from './coalesce';
import { FakeTimers } from './fakeTimers';

describe('coalesce', () => {
  it('delivers the first item at once, then batches a burst into one delivery per window', () => {
    const t = new FakeTimers();
    const got: number[][] = [];
    const c = coalesce<number>(100, (b) => got.push(b), { timers: t });
    c.push(1);
    expect(got).toEqual([[1]]);
    c.push(2);
    c.push(3);
    t.advance(50);
    c.push(4);
    expect(got).toEqual([[1]]);
    t.advance(50);
    expect(got).toEqual([[1], [2, 3, 4]]);
    t.advance(500);
    c.push(5);
    expect(got).toEqual([[1], [2, 3, 4], [5]]);
  });

  it('keeps only the latest item per key', () => {
    const t = new FakeTimers();
    const got: { k: string; v: number }[][] = [];
    const c = coalesce<{ k: string; v: number }>(100, (b) => got.push(b), { timers: t, key: (x) => x.k, leading: false });
    c.push({ k: 'a', v: 1 });
    c.push({ k: 'b', v: 1 });
    c.push({ k: 'a', v: 2 });
    expect(c.pending).toBe(2);
    t.advance(100);
    expect(got).toEqual([[{ k: 'b', v: 1 }, { k: 'a', v: 2 }]]);
  });

  it('flush delivers now and cancel drops', () => {
    const t = new FakeTimers();
    const got: number[][] = [];
    const c = coalesce<number>(100, (b) => got.push(b), { timers: t, leading: false });
    c.push(1);
    c.flush();
    expect(got).toEqual([[1]]);
    c.push(2);
    c.cancel();
    t.advance(1000);
    expect(got).toEqual([[1]]);
    expect(t.pending).toBe(0);
  });

  it('throttled runs at most once per window and never loses the last call', () => {
    const t = new FakeTimers();
    let runs = 0;
    const f = throttled(100, () => runs++, t);
    for (let i = 0; i < 50; i++) {
      f();
      t.advance(5);
    }
    // 250 ms of calls: the leading run, then one per 100 ms window.
    expect(runs).toBe(3);
    t.advance(100);
    expect(runs).toBe(4);
    t.advance(1000);
    expect(runs).toBe(4);
  });
});
