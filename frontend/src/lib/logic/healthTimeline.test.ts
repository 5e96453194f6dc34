import { describe, expect, it } from 'vitest';
import { axisTicks, downEpisodes, filterTimeline, formatDelta, groupByObserver, kindLabel, nodesOf, position, timeRange } from './healthTimeline';
import type { TimelineEntry } from './healthTypes';

const T0 = Date.parse('2025-01-01T10:00:00Z');
function e(sec: number, observer: string, subject: string, kind: string): TimelineEntry {
  return { t: T0 + sec * 1000, time: new Date(T0 + sec * 1000).toISOString(), observer, subject, kind };
}

const crash = [
  e(0, 'node-1', 'node-3', 'join'),
  e(10, 'node-1', 'node-3', 'suspect'),
  e(10.4, 'node-2', 'node-3', 'suspect'),
  e(12, 'node-1', 'node-3', 'dead'),
  e(12.5, 'observer', 'node-3', 'dead'),
  e(13, 'node-2', 'node-3', 'dead'),
  e(30, 'node-1', 'node-3', 'rejoin'),
  e(30.2, 'node-2', 'node-3', 'rejoin'),
  e(31, 'observer', 'node-3', 'rejoin'),
  e(50, 'node-2', 'node-3', 'dead'),
];

describe('timeline', () => {
  it('filters by node (observer or subject)', () => {
    expect(filterTimeline(crash, 'node-2')).toHaveLength(4);
    expect(filterTimeline(crash, 'node-3')).toHaveLength(crash.length);
    expect(filterTimeline(crash, '')).toHaveLength(crash.length);
    expect(nodesOf(crash)).toEqual(['node-1', 'node-2', 'node-3', 'observer']);
  });

  it('makes one lane per observer', () => {
    const lanes = groupByObserver([...crash].reverse());
    expect(lanes.map((l) => l.observer)).toEqual(['node-1', 'node-2', 'observer']);
    expect(lanes[0].entries.map((x) => x.kind)).toEqual(['join', 'suspect', 'dead', 'rejoin']);
  });

  it('places times on an axis with round ticks', () => {
    const r = timeRange(crash)!;
    expect(r.start).toBeLessThan(T0);
    expect(r.end).toBeGreaterThan(T0 + 50_000);
    expect(position(T0 + 25_000, { start: T0, end: T0 + 50_000 })).toBe(0.5);
    expect(position(T0 - 1, { start: T0, end: T0 + 50_000 })).toBe(0);
    expect(timeRange([crash[0]])).toEqual({ start: T0 - 5000, end: T0 + 5000 });
    expect(timeRange([])).toBeNull();
    const ticks = axisTicks({ start: T0, end: T0 + 60_000 }, 6);
    expect(ticks[0]).toBe(T0);
    expect(ticks[1] - ticks[0]).toBe(10_000);
  });

  it('says who thought whom was dead, and when', () => {
    const eps = downEpisodes(crash);
    expect(eps).toHaveLength(2);
    const [second, first] = eps;
    expect(first.subject).toBe('node-3');
    expect(first.start).toBe(T0 + 10_000);
    expect(first.end).toBe(T0 + 31_000);
    expect(first.sightings).toEqual([
      { observer: 'node-1', suspectAt: T0 + 10_000, deadAt: T0 + 12_000, backAt: T0 + 30_000 },
      { observer: 'node-2', suspectAt: T0 + 10_400, deadAt: T0 + 13_000, backAt: T0 + 30_200 },
      { observer: 'observer', deadAt: T0 + 12_500, backAt: T0 + 31_000 },
    ]);
    expect(second.start).toBe(T0 + 50_000);
    expect(second.end).toBeUndefined();
    expect(second.sightings).toEqual([{ observer: 'node-2', deadAt: T0 + 50_000 }]);
  });

  it('prints offsets and kinds', () => {
    expect(formatDelta(400)).toBe('+0.4 s');
    expect(formatDelta(15_000)).toBe('+15 s');
    expect(formatDelta(180_000)).toBe('+3 min');
    expect(kindLabel('dead')).toBe('declared dead');
    expect(kindLabel('weird')).toBe('weird');
  });
});
