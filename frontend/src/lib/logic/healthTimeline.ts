// The membership timeline ("who thought whom was dead, and when"): filter
// by node, one lane per observer on a time axis, and the down episodes of
// each node with who saw it suspect or dead and how long after the first.

import type { TimelineEntry } from './healthTypes';

/** filterTimeline keeps the entries seen by or about node ("" keeps all). */
export function filterTimeline(entries: readonly TimelineEntry[], node: string): TimelineEntry[] {
  if (!node) return [...entries];
  return entries.filter((e) => e.observer === node || e.subject === node);
}

/** One lane of the time axis: what one observer saw. */
export interface TimelineLane {
  observer: string;
  entries: TimelineEntry[];
}

/** groupByObserver makes one lane per observer (sorted by name), entries oldest first. */
export function groupByObserver(entries: readonly TimelineEntry[]): TimelineLane[] {
  const byObs = new Map<string, TimelineEntry[]>();
  for (const e of entries) {
    const l = byObs.get(e.observer) ?? [];
    l.push(e);
    byObs.set(e.observer, l);
  }
  return [...byObs.entries()]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([observer, list]) => ({ observer, entries: list.sort((x, y) => x.t - y.t || (x.seq ?? 0) - (y.seq ?? 0)) }));
}

/** A time range (ms since epoch). */
export interface TimeRange {
  start: number;
  end: number;
}

/**
 * timeRange spans the entries (and `now`, when given), padded a little on
 * both sides; a single instant gets a 10 s window around it.
 */
export function timeRange(entries: readonly TimelineEntry[], now?: number): TimeRange | null {
  if (!entries.length) return null;
  let start = Infinity;
  let end = -Infinity;
  for (const e of entries) {
    start = Math.min(start, e.t);
    end = Math.max(end, e.t);
  }
  if (now !== undefined && now > end) end = now;
  const span = end - start;
  if (span <= 0) return { start: start - 5000, end: end + 5000 };
  const pad = span * 0.02;
  return { start: start - pad, end: end + pad };
}

/** position places t on the range: 0 at the start, 1 at the end (clamped). */
export function position(t: number, r: TimeRange): number {
  const span = r.end - r.start;
  if (span <= 0) return 0.5;
  return Math.min(1, Math.max(0, (t - r.start) / span));
}

/** axisTicks picks about `count` round tick times inside the range. */
export function axisTicks(r: TimeRange, count = 6): number[] {
  const span = r.end - r.start;
  if (span <= 0) return [];
  const steps = [100, 250, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000, 43_200_000, 86_400_000];
  const raw = span / Math.max(1, count);
  const step = steps.find((s) => s >= raw) ?? Math.ceil(raw / 86_400_000) * 86_400_000;
  const out: number[] = [];
  for (let t = Math.ceil(r.start / step) * step; t <= r.end; t += step) out.push(t);
  return out;
}

/** What one observer saw of a node during one down episode. */
export interface Sighting {
  observer: string;
  suspectAt?: number;
  deadAt?: number;
  leftAt?: number;
  /** When this observer saw it back (join, rejoin or recovered). */
  backAt?: number;
}

/** One time a node went down (suspect, dead or left) and who noticed when. */
export interface DownEpisode {
  subject: string;
  /** The first suspect/dead/left sighting (ms). */
  start: number;
  /** The last "back" sighting, if it came back. */
  end?: number;
  sightings: Sighting[];
}

const DOWN = new Set(['suspect', 'dead', 'left']);
const BACK = new Set(['join', 'rejoin', 'recovered', 'alive']);

/**
 * downEpisodes answers "who thought whom was dead, and when": for each
 * node, every episode of it going down with, per observer, when it saw the
 * node suspect, dead or left, and back. An episode ends once every
 * observer that saw it down has seen it back; a new down sighting after
 * that starts the next episode. Newest episodes first.
 */
export function downEpisodes(entries: readonly TimelineEntry[]): DownEpisode[] {
  const sorted = [...entries].sort((a, b) => a.t - b.t);
  const open = new Map<string, DownEpisode>();
  const done: DownEpisode[] = [];
  const sighting = (ep: DownEpisode, obs: string): Sighting => {
    let s = ep.sightings.find((x) => x.observer === obs);
    if (!s) {
      s = { observer: obs };
      ep.sightings.push(s);
    }
    return s;
  };
  for (const e of sorted) {
    if (!e.subject || e.subject === e.observer) continue;
    const kind = e.kind;
    if (DOWN.has(kind)) {
      let ep = open.get(e.subject);
      if (!ep) {
        ep = { subject: e.subject, start: e.t, sightings: [] };
        open.set(e.subject, ep);
      }
      const s = sighting(ep, e.observer);
      // A new down sighting after this observer saw it back: the node went down again.
      if (s.backAt !== undefined) {
        s.backAt = undefined;
        s.suspectAt = s.deadAt = s.leftAt = undefined;
      }
      if (kind === 'suspect' && s.suspectAt === undefined) s.suspectAt = e.t;
      if (kind === 'dead' && s.deadAt === undefined) s.deadAt = e.t;
      if (kind === 'left' && s.leftAt === undefined) s.leftAt = e.t;
    } else if (BACK.has(kind)) {
      const ep = open.get(e.subject);
      if (!ep) continue;
      const s = ep.sightings.find((x) => x.observer === e.observer);
      if (!s || s.backAt !== undefined) continue;
      s.backAt = e.t;
      ep.end = Math.max(ep.end ?? 0, e.t);
      if (ep.sightings.every((x) => x.backAt !== undefined)) {
        open.delete(e.subject);
        done.push(ep);
      }
    }
  }
  for (const ep of open.values()) {
    if (ep.sightings.some((x) => x.backAt === undefined)) ep.end = undefined;
    done.push(ep);
  }
  for (const ep of done) ep.sightings.sort((a, b) => firstDown(a) - firstDown(b) || (a.observer < b.observer ? -1 : 1));
  return done.sort((a, b) => b.start - a.start || (a.subject < b.subject ? -1 : 1));
}

/** firstDown is when an observer first saw the node down in an episode. */
export function firstDown(s: Sighting): number {
  return Math.min(s.suspectAt ?? Infinity, s.deadAt ?? Infinity, s.leftAt ?? Infinity);
}

/** formatDelta prints an offset in ms as "+0.4 s", "+12 s", "+2 min". */
export function formatDelta(ms: number): string {
  if (!Number.isFinite(ms)) return '';
  if (ms < 10_000) return `+${(ms / 1000).toFixed(1)} s`;
  if (ms < 120_000) return `+${Math.round(ms / 1000)} s`;
  return `+${Math.round(ms / 60_000)} min`;
}

/** kindLabel is what a timeline entry's kind says in the UI. */
export function kindLabel(kind: string): string {
  switch (kind) {
    case 'join':
      return 'joined';
    case 'rejoin':
      return 'rejoined';
    case 'suspect':
      return 'suspected';
    case 'recovered':
      return 'recovered';
    case 'dead':
      return 'declared dead';
    case 'left':
      return 'left';
    case 'update':
      return 'updated';
    case 'events_lost':
      return 'events lost (log overflowed)';
    default:
      return kind;
  }
}

/** Colours of the timeline kinds. */
export const KIND_COLOURS: Record<string, string> = {
  join: '#2fbf71',
  rejoin: '#6ea8fe',
  recovered: '#3ccfcf',
  suspect: '#f0b429',
  dead: '#e5484d',
  left: '#8b8d98',
  update: '#5c6378',
  events_lost: '#c56cf0',
};

/** nodesOf lists every node an entry names (observers and subjects), sorted. */
export function nodesOf(entries: readonly TimelineEntry[]): string[] {
  const s = new Set<string>();
  for (const e of entries) {
    s.add(e.observer);
    if (e.subject) s.add(e.subject);
  }
  return [...s].sort();
}
