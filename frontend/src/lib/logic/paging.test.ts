import { describe, expect, it } from 'vitest';
import { nextPageRequest, refreshLimit, visibleWindow } from './paging';

describe('visibleWindow', () => {
  it.each([
    // scrollTop, viewport, row, count, overscan → start, end, offset, height
    [0, 300, 30, 100000, 5, 0, 16, 0, 3000000],
    [3000, 300, 30, 100000, 5, 95, 116, 2850, 3000000],
    [1e9, 300, 30, 100, 5, 85, 100, 2550, 3000],
    [0, 300, 30, 0, 5, 0, 0, 0, 0],
    [0, 300, 30, 3, 5, 0, 3, 0, 90],
  ])('scrollTop %d viewport %d row %d count %d', (top, vh, rh, count, over, start, end, offset, height) => {
    expect(visibleWindow(top, vh, rh, count, over)).toEqual({ start, end, offsetTop: offset, height });
  });
  it('renders a bounded number of rows whatever the count', () => {
    const w = visibleWindow(1_500_000, 800, 28, 100_000);
    expect(w.end - w.start).toBeLessThan(60);
  });
});

describe('nextPageRequest', () => {
  it('nothing when loaded far enough or no cursor', () => {
    expect(nextPageRequest({ loaded: 200, total: 1000, nextCursor: 'c' }, 150, 200)).toBeNull();
    expect(nextPageRequest({ loaded: 200, total: 1000, nextCursor: '' }, 500, 200)).toBeNull();
    expect(nextPageRequest({ loaded: 200, total: 200, nextCursor: 'c' }, 500, 200)).toBeNull();
  });
  it('one page for a small step, a bigger page for a jump, capped', () => {
    expect(nextPageRequest({ loaded: 200, total: 100000, nextCursor: 'c' }, 230, 200)).toEqual({ cursor: 'c', limit: 200 });
    expect(nextPageRequest({ loaded: 200, total: 100000, nextCursor: 'c' }, 1100, 200)).toEqual({ cursor: 'c', limit: 1000 });
    expect(nextPageRequest({ loaded: 200, total: 100000, nextCursor: 'c' }, 90000, 200)).toEqual({ cursor: 'c', limit: 10000 });
  });
  it('refreshLimit keeps the loaded rows', () => {
    expect(refreshLimit(0, 200)).toBe(200);
    expect(refreshLimit(450, 200)).toBe(600);
    expect(refreshLimit(50000, 200)).toBe(10000);
  });
});
