import type { ApiClient } from '../api/client';
import { asApiError } from '../api/errors';
import type { EventStream } from '../api/events';
import { normalizeProcess, pidString } from '../api/normalize';
import type { ProcessInfo } from '../api/types';
import { realTimers, throttled, type Timers } from '../logic/coalesce';
import {
  NO_FACTS,
  NO_PINS,
  pinCount,
  pinName,
  pinPid,
  pinRows,
  resolveNames,
  unpinName,
  unpinPid,
  type PinFacts,
  type PinRow,
  type Pins,
} from '../logic/sessionPins';

/** How many pins a refresh looks up (the rest show without details). */
export const MAX_RESOLVE = 100;

/** Options of PinsStore. */
export interface PinsStoreOptions {
  /** The current mode ("simulator" or a profile name), recorded with each pid pin. */
  mode?: () => string;
  /** Shortest time between two event-driven refreshes (ms); default 1000. */
  liveMs?: number;
  timers?: Timers;
}

/**
 * PinsStore holds the pinned processes and names shown at the top of the
 * Processes view: pin and unpin, and what each pin points at now (a name
 * is looked up in the registry, a pid asked for its details; a pin that
 * names nothing in this cluster is marked stale). The session saves and
 * restores the pins themselves.
 */
export class PinsStore {
  #client: ApiClient;
  #events: EventStream;
  #mode: () => string;
  #liveMs: number;
  #timers: Timers;

  #pins = $state.raw<Pins>(NO_PINS);
  #facts = $state.raw<PinFacts>(NO_FACTS);
  #loading = $state(false);
  #rows = $derived.by<PinRow[]>(() => pinRows(this.#pins, this.#facts, this.#mode()));
  #gen = 0;
  #changeFns = new Set<() => void>();

  constructor(client: ApiClient, events: EventStream, opts: PinsStoreOptions = {}) {
    this.#client = client;
    this.#events = events;
    this.#mode = opts.mode ?? (() => '');
    this.#liveMs = opts.liveMs ?? 1000;
    this.#timers = opts.timers ?? realTimers;
  }

  /** The pins. */
  get pins(): Pins {
    return this.#pins;
  }
  /** The pinned panel's rows (pid pins, then name pins). */
  get rows(): readonly PinRow[] {
    return this.#rows;
  }
  /** How many things are pinned. */
  get count(): number {
    return pinCount(this.#pins);
  }
  get loading(): boolean {
    return this.#loading;
  }

  /** onChange calls fn after each change of the pins (what a session saves). It returns the unsubscribe. */
  onChange(fn: () => void): () => void {
    this.#changeFns.add(fn);
    return () => this.#changeFns.delete(fn);
  }

  #set(p: Pins): void {
    if (p === this.#pins) return;
    this.#pins = p;
    for (const fn of [...this.#changeFns]) fn();
  }

  isPidPinned(pid: string): boolean {
    return this.#pins.processes.includes(pid);
  }
  isNamePinned(name: string): boolean {
    return this.#pins.names.includes(name);
  }

  /** pinPid pins a process by pid. */
  pinPid(pid: string, info?: ProcessInfo): void {
    this.#set(pinPid(this.#pins, pid, this.#mode()));
    if (info) this.#learn([info]);
    else void this.refresh();
  }

  unpinPid(pid: string): void {
    this.#set(unpinPid(this.#pins, pid));
  }

  /** pinName pins a registered name (it follows the name to whatever process holds it). */
  pinName(name: string, info?: ProcessInfo): void {
    this.#set(pinName(this.#pins, name, info?.pid));
    if (info) this.#learn([info]);
    else void this.refresh();
  }

  unpinName(name: string): void {
    this.#set(unpinName(this.#pins, name));
  }

  /** replace sets every pin (a restored or switched session) and looks them up. */
  replace(p: Pins): Promise<void> {
    this.#set(p);
    this.#facts = NO_FACTS;
    return this.refresh();
  }

  #learn(infos: ProcessInfo[]): void {
    const info = new Map(this.#facts.info);
    const missing = new Set(this.#facts.missing);
    const unknown = new Map(this.#facts.unknown);
    for (const p of infos) {
      info.set(p.pid, p);
      missing.delete(p.pid);
      unknown.delete(p.pid);
    }
    this.#facts = { ...this.#facts, info, missing, unknown };
  }

  /**
   * refresh looks every pin up: names in the registry (registry_lookup),
   * then each pid's details. Pins beyond MAX_RESOLVE are not looked up.
   */
  async refresh(): Promise<void> {
    const pins = this.#pins;
    if (pinCount(pins) === 0) {
      this.#facts = NO_FACTS;
      return;
    }
    const gen = ++this.#gen;
    this.#loading = true;
    try {
      const names = pins.names.slice(0, MAX_RESOLVE);
      const unresolved = new Set<string>();
      const resolved: Record<string, string | null> = {};
      await Promise.all(
        names.map(async (name) => {
          const r = await this.#client.tryOperation<{ pid?: unknown }>('registry_lookup', { name });
          if (r.ok) {
            const pid = pidString(r.value?.pid);
            resolved[name] = pid || null;
            if (!pid) unresolved.add(name);
          } else if (r.error.code === 'not_found') {
            resolved[name] = null;
            unresolved.add(name);
          }
          // Any other failure: keep what was known.
        }),
      );
      if (gen !== this.#gen) return;
      const current = resolveNames(this.#pins, resolved);
      // A pid pinned in another mode names nothing here: no need to ask.
      const mode = this.#mode();
      const elsewhere = (pid: string) => current.stale.includes(pid) || (!!mode && !!current.origins[pid] && current.origins[pid] !== mode);
      const pids = [
        ...new Set([...current.processes.filter((p) => !elsewhere(p)), ...current.names.map((n) => current.byName[n]).filter(Boolean)]),
      ].slice(0, MAX_RESOLVE);
      const info = new Map<string, ProcessInfo>();
      const missing = new Set<string>();
      const unknown = new Map<string, string>();
      await Promise.all(
        pids.map(async (pid) => {
          try {
            const p = normalizeProcess(await this.#client.process(pid));
            if (p) info.set(pid, p);
            else missing.add(pid);
          } catch (err) {
            const e = asApiError(err);
            if (e.code === 'not_found' || e.status === 404) missing.add(pid);
            else unknown.set(pid, `cannot ask its node: ${e.message}`);
          }
        }),
      );
      if (gen !== this.#gen) return;
      // Apply the lookups to the pins as they are now (the user may have pinned meanwhile).
      this.#set(resolveNames(this.#pins, resolved));
      this.#facts = { info, missing, unknown, unresolved };
    } finally {
      if (gen === this.#gen) this.#loading = false;
    }
  }

  /** start refreshes the pins when processes exit (at most once per liveMs). It returns the stop function. */
  start(): () => void {
    const soon = throttled(this.#liveMs, () => void this.refresh(), this.#timers);
    const onExit = () => {
      if (pinCount(this.#pins) > 0) soon();
    };
    const offs = [this.#events.subscribe('process.exits', onExit), this.#events.subscribe('resync', onExit)];
    return () => {
      for (const off of offs) off();
      soon.cancel();
    };
  }
}
