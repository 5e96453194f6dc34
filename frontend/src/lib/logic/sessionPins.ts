// Pinned processes and names: the UI's model of session.Pins and the rows
// the Processes view shows at its top. Pure functions; the PinsStore keeps
// the state.
//
// On the wire (session.Pins) `processes` holds both the pids the user
// pinned and the pids pinned names resolve to (listed in `by_name`); the
// backend's SwitchMode re-resolves names in the new mode and lists pids of
// another mode in `stale`. Here the two kinds are kept apart: `processes`
// are only the explicit pid pins.

import type { ProcessInfo } from '../api/types';
import { MAX_PINS, normalizePins, type WirePins } from './session';

/** The pins as the UI keeps them. */
export interface Pins {
  /** Pids the user pinned, in pin order. */
  processes: string[];
  /** Registered names the user pinned, in pin order. */
  names: string[];
  /** Where each pinned name resolves in the current mode. */
  byName: Record<string, string>;
  /** Pinned pids the backend says belong to another mode. */
  stale: string[];
  /** The mode each pinned pid was pinned in. */
  origins: Record<string, string>;
}

/** No pins. */
export const NO_PINS: Pins = { processes: [], names: [], byName: {}, stale: [], origins: {} };

/** pinsFromWire reads session.Pins into the UI's model. */
export function pinsFromWire(raw: WirePins | unknown): Pins {
  const w = normalizePins(raw);
  const derived = new Set(Object.values(w.by_name));
  // A pid that is also what a name resolves to is explicit only when it has an origin.
  const processes = w.processes.filter((pid) => !derived.has(pid) || pid in w.origins);
  const keep = new Set(processes);
  const names = w.names;
  const byName: Record<string, string> = {};
  for (const n of names) if (w.by_name[n]) byName[n] = w.by_name[n];
  return {
    processes,
    names,
    byName,
    stale: w.stale.filter((p) => keep.has(p)),
    origins: Object.fromEntries(Object.entries(w.origins).filter(([p]) => keep.has(p))),
  };
}

/** pinsToWire writes the UI's pins as session.Pins (empty parts left out). */
export function pinsToWire(p: Pins): WirePins {
  const processes = [...p.processes];
  for (const n of p.names) {
    const pid = p.byName[n];
    if (pid && !processes.includes(pid)) processes.push(pid);
  }
  const out: WirePins = {};
  if (processes.length) out.processes = processes.slice(0, MAX_PINS);
  if (p.names.length) out.names = p.names.slice(0, MAX_PINS);
  const byName = Object.entries(p.byName).filter(([n, pid]) => pid && p.names.includes(n));
  if (byName.length) out.by_name = Object.fromEntries(byName);
  const stale = p.stale.filter((pid) => p.processes.includes(pid));
  if (stale.length) out.stale = stale;
  const origins = Object.entries(p.origins).filter(([pid, m]) => m && p.processes.includes(pid));
  if (origins.length) out.origins = Object.fromEntries(origins);
  return out;
}

/** pinPid pins a pid (pinned in `mode`); pinning it again changes nothing. */
export function pinPid(p: Pins, pid: string, mode: string): Pins {
  if (!pid || p.processes.includes(pid) || p.processes.length >= MAX_PINS) return p;
  return {
    ...p,
    processes: [...p.processes, pid],
    origins: mode ? { ...p.origins, [pid]: mode } : p.origins,
    stale: p.stale.filter((x) => x !== pid),
  };
}

/** unpinPid removes a pid pin. */
export function unpinPid(p: Pins, pid: string): Pins {
  if (!p.processes.includes(pid)) return p;
  const { [pid]: _, ...origins } = p.origins;
  return { ...p, processes: p.processes.filter((x) => x !== pid), stale: p.stale.filter((x) => x !== pid), origins };
}

/** pinName pins a registered name, with the pid it resolves to now when known. */
export function pinName(p: Pins, name: string, pid?: string): Pins {
  name = name.trim();
  if (!name || p.names.includes(name) || p.names.length >= MAX_PINS) return p;
  return { ...p, names: [...p.names, name], byName: pid ? { ...p.byName, [name]: pid } : p.byName };
}

/** unpinName removes a name pin. */
export function unpinName(p: Pins, name: string): Pins {
  if (!p.names.includes(name)) return p;
  const { [name]: _, ...byName } = p.byName;
  return { ...p, names: p.names.filter((x) => x !== name), byName };
}

/** resolveNames records where pinned names resolve now (null: not registered here). */
export function resolveNames(p: Pins, resolved: Record<string, string | null>): Pins {
  let changed = false;
  const byName = { ...p.byName };
  for (const [name, pid] of Object.entries(resolved)) {
    if (!p.names.includes(name)) continue;
    if (pid && byName[name] !== pid) {
      byName[name] = pid;
      changed = true;
    } else if (!pid && name in byName) {
      delete byName[name];
      changed = true;
    }
  }
  return changed ? { ...p, byName } : p;
}

/** pinCount is the number of pins (pids and names). */
export function pinCount(p: Pins): number {
  return p.processes.length + p.names.length;
}

/** What the UI learned about pinned things on its last look. */
export interface PinFacts {
  /** Process details by pid. */
  info: ReadonlyMap<string, ProcessInfo>;
  /** Pids that do not exist now (the API said not_found). */
  missing: ReadonlySet<string>;
  /** Pids that could not be asked about (a node did not answer), with why. */
  unknown: ReadonlyMap<string, string>;
  /** Names that are not registered now. */
  unresolved: ReadonlySet<string>;
}

/** No facts yet. */
export const NO_FACTS: PinFacts = { info: new Map(), missing: new Set(), unknown: new Map(), unresolved: new Set() };

/** One row of the pinned panel. */
export interface PinRow {
  kind: 'pid' | 'name';
  /** "pid:node-1/4" or "name:web" (unique). */
  key: string;
  /** The pid (for a name: where it resolves, if it does). */
  pid?: string;
  /** The pinned name (kind "name"). */
  name?: string;
  info?: ProcessInfo;
  /** The pin names nothing that exists in this cluster now. */
  stale: boolean;
  /** Why it is stale or unknown, in words. */
  why?: string;
}

/** pinRows lists the pinned panel's rows: pid pins in pin order, then name pins. */
export function pinRows(p: Pins, facts: PinFacts, mode: string): PinRow[] {
  const rows: PinRow[] = [];
  for (const pid of p.processes) {
    const origin = p.origins[pid];
    let stale = false;
    let why: string | undefined;
    if (p.stale.includes(pid) || (origin && mode && origin !== mode && !facts.info.has(pid))) {
      stale = true;
      why = origin ? `pinned in ${origin}; not part of this cluster` : 'pinned in another mode; not part of this cluster';
    } else if (facts.missing.has(pid)) {
      stale = true;
      why = 'the process is gone';
    } else if (facts.unknown.has(pid)) {
      why = facts.unknown.get(pid);
    }
    rows.push({ kind: 'pid', key: `pid:${pid}`, pid, info: facts.info.get(pid), stale, why });
  }
  for (const name of p.names) {
    const pid = p.byName[name];
    let stale = false;
    let why: string | undefined;
    if (facts.unresolved.has(name)) {
      stale = true;
      why = 'the name is not registered in this cluster';
    } else if (pid && facts.missing.has(pid)) {
      stale = true;
      why = `the name pointed at ${pid}, which is gone`;
    } else if (pid && facts.unknown.has(pid)) {
      why = facts.unknown.get(pid);
    }
    rows.push({ kind: 'name', key: `name:${name}`, name, pid, info: pid ? facts.info.get(pid) : undefined, stale, why });
  }
  return rows;
}

/** namesOf lists a process's cluster-wide registered names (what a name pin follows). */
export function namesOf(p: Pick<ProcessInfo, 'registered'>): string[] {
  return p.registered ?? [];
}
