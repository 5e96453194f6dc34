import { describe, expect, it } from 'vitest';
import { RateTracker } from './rates';

describe('RateTracker', () => {
  it('computes per-second rates between observations', () => {
    const r = new RateTracker();
    r.observe([{ pid: 'a', messages_in: 10 }], 0);
    expect(r.rate('a')).toBeUndefined();
    r.observe([{ pid: 'a', messages_in: 30 }], 2000);
    expect(r.rate('a')).toBe(10);
    // Too soon to measure: the old rate stays.
    r.observe([{ pid: 'a', messages_in: 31 }], 2100);
    expect(r.rate('a')).toBe(10);
    r.observe([{ pid: 'a', messages_in: 30 + 5 }], 3000);
    expect(r.rate('a')).toBe(5);
  });
  it('restarts on a counter that went down and forgets old entries', () => {
    const r = new RateTracker(5000);
    r.observe([{ pid: 'a', messages_in: 10 }], 0);
    r.observe([{ pid: 'a', messages_in: 20 }], 1000);
    r.observe([{ pid: 'a', messages_in: 1 }], 2000);
    expect(r.rate('a')).toBeUndefined();
    r.observe([], 10_000);
    r.observe([{ pid: 'a', messages_in: 50 }], 11_000);
    expect(r.rate('a')).toBeUndefined();
  });
});
