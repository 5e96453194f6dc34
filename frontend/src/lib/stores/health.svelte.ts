import type { ApiClient, OpResult } from '../api/client';
import { asApiError, type ApiError } from '../api/errors';
import type { EventStream } from '../api/events';
import { realTimers, throttled, type Timers } from '../logic/coalesce';
import {
  activeAlerts,
  alertHistory,
  badgeCounts,
  boundAlerts,
  mergeAlert,
  mergeAlerts,
  reconcileActive,
  unhealthyNodes,
  type BadgeCounts,
} from '../logic/health';
import { filterTimeline, nodesOf } from '../logic/healthTimeline';
import {
  alertFromEvent,
  normalizeAlert,
  normalizeAlerts,
  normalizeReport,
  normalizeSamples,
  normalizeTimeline,
  type Alert,
  type HealthReport,
  type NodeStatus,
  type TimelineEntry,
} from '../logic/healthTypes';
import { appendPoint, resourcePoint, type ResourcePoint } from '../logic/resources';

/** The health operations the UI uses. */
export const HEALTH_OPS = {
  status: 'health_status',
  resources: 'node_resources',
  alerts: 'alerts_list',
  ack: 'alert_ack',
  timeline: 'membership_timeline',
  pressure: 'node_pressure',
} as const;

/** The hub topics of health. */
export const HEALTH_TOPICS = { health: 'health', alerts: 'alerts' } as const;

/** What the health store needs from the catalog. */
export interface HealthCatalog {
  readonly loaded: boolean;
  has(name: string): boolean;
}

/** Options of HealthStore. */
export interface HealthStoreOptions {
  /** How often the store checks for a stale report (ms); default 5000. */
  pollMs?: number;
  /** A report older than this is fetched again when no `health` event came (ms); default 3000. */
  staleMs?: number;
  /** How long to wait for the catalog before checking again (ms); default 300. */
  catalogWaitMs?: number;
  /** Shortest time between two alert list refreshes caused by mismatches (ms); default 1000. */
  alertsCoalesceMs?: number;
  timers?: Timers;
}

/**
 * HealthStore holds the cluster's health as the Health view, the alert
 * badge, the topology rings and the node drawer show it: the latest report
 * (health_status, then every `health` event), every alert the UI has seen
 * (alerts_list, then `alerts` events merged by their lifecycle), and
 * acknowledgement. It polls health_status only while no `health` event
 * arrives, and only when the backend offers it.
 */
export class HealthStore {
  #client: ApiClient;
  #events: EventStream;
  #catalog: HealthCatalog;
  #opts: Required<Omit<HealthStoreOptions, 'timers'>> & { timers: Timers };

  #report = $state.raw<HealthReport | null>(null);
  #error = $state.raw<ApiError | null>(null);
  #alerts = $state.raw<Map<string, Alert>>(new Map());
  #alertsError = $state.raw<ApiError | null>(null);
  #alertsLoaded = $state(false);
  #acking = $state<Record<string, boolean>>({});
  #reportAt = 0;
  #reportGen = 0;
  #alertsGen = 0;
  #listeners = new Set<(r: HealthReport) => void>();

  #active = $derived(activeAlerts(this.#alerts));
  #history = $derived(alertHistory(this.#alerts));
  #counts = $derived(badgeCounts(this.#alerts.values()));
  // Kept identical while its content does not change, so the topology
  // graph does not re-sync on every report.
  #lastUnhealthy: ReadonlyMap<string, NodeStatus> = new Map();
  #unhealthy = $derived.by(() => {
    const next = unhealthyNodes(this.#report?.nodes ?? [], this.#alerts.values());
    const prev = this.#lastUnhealthy;
    if (next.size === prev.size && [...next].every(([k, v]) => prev.get(k) === v)) return prev;
    this.#lastUnhealthy = next;
    return next;
  });

  readonly timeline: TimelineStore;

  constructor(client: ApiClient, events: EventStream, catalog: HealthCatalog, opts: HealthStoreOptions = {}) {
    this.#client = client;
    this.#events = events;
    this.#catalog = catalog;
    this.#opts = { pollMs: 5000, staleMs: 3000, catalogWaitMs: 300, alertsCoalesceMs: 1000, timers: realTimers, ...opts };
    this.timeline = new TimelineStore(client, events, catalog, this.#opts.timers);
  }

  /** Whether the backend offers health (health_status in the catalog). */
  get available(): boolean {
    return this.#catalog.has(HEALTH_OPS.status);
  }
  /** The latest report (null before the first). */
  get report(): HealthReport | null {
    return this.#report;
  }
  /** The last failure of health_status (the last report stays). */
  get error(): ApiError | null {
    return this.#error;
  }
  /** Every alert the UI knows, by id. */
  get alerts(): ReadonlyMap<string, Alert> {
    return this.#alerts;
  }
  /** The unresolved alerts: unacknowledged first, most severe, newest. */
  get active(): readonly Alert[] {
    return this.#active;
  }
  /** The resolved alerts, most recently resolved first. */
  get history(): readonly Alert[] {
    return this.#history;
  }
  /** The badge's counts of active alerts by severity. */
  get counts(): BadgeCounts {
    return this.#counts;
  }
  /** The last failure of alerts_list. */
  get alertsError(): ApiError | null {
    return this.#alertsError;
  }
  /** Whether alerts_list has answered once. */
  get alertsLoaded(): boolean {
    return this.#alertsLoaded;
  }
  /** The unhealthy nodes (warning, critical, unreachable) for the topology rings. */
  get unhealthy(): ReadonlyMap<string, NodeStatus> {
    return this.#unhealthy;
  }
  /** status returns a node's status when it is unhealthy. */
  status(node: string): NodeStatus | undefined {
    return this.#unhealthy.get(node);
  }
  /** Whether an acknowledgement of the alert is in flight. */
  isAcking(id: string): boolean {
    return !!this.#acking[id];
  }

  /**
   * applyReport takes a health_status result or a `health` event. A report
   * that lists the active alerts settles them (alerts missing from it were
   * resolved); one that only counts them triggers an alerts_list refresh
   * when the count disagrees.
   */
  applyReport(raw: unknown, refreshAlerts?: () => void): boolean {
    const r = normalizeReport(raw);
    if (!r) return false;
    this.#report = r;
    this.#reportAt = this.#opts.timers.now();
    this.#error = null;
    if (r.alerts) {
      this.#alerts = boundAlerts(reconcileActive(this.#alerts, r.alerts, r.time ?? ''));
    } else if (r.alertsActive !== undefined && r.alertsActive !== this.#counts.total) {
      refreshAlerts?.();
    }
    for (const fn of [...this.#listeners]) {
      try {
        fn(r);
      } catch (err) {
        console.error('clusterlab: health report listener failed', err);
      }
    }
    return true;
  }

  /** applyAlert merges one alert (an `alerts` event's payload or an alert). */
  applyAlert(raw: unknown): Alert | null {
    const a = alertFromEvent(raw);
    if (!a) return null;
    this.#alerts = boundAlerts(mergeAlert(this.#alerts, a));
    return this.#alerts.get(a.id) ?? a;
  }

  /** onReport calls fn with every report applied; it returns the unsubscribe. */
  onReport(fn: (r: HealthReport) => void): () => void {
    this.#listeners.add(fn);
    return () => {
      this.#listeners.delete(fn);
    };
  }

  /** refresh runs health_status; only the newest answer is applied. */
  async refresh(): Promise<void> {
    const gen = ++this.#reportGen;
    try {
      const raw = await this.#client.runOperation(HEALTH_OPS.status, {});
      if (gen !== this.#reportGen) return;
      if (!this.applyReport(raw, () => void this.refreshAlerts())) {
        this.#error = asApiError(new Error('health_status answered something that is not a health report'));
      }
    } catch (err) {
      if (gen === this.#reportGen) this.#error = asApiError(err);
    }
  }

  /** refreshAlerts runs alerts_list (every state) and merges the answer. */
  async refreshAlerts(): Promise<void> {
    if (!this.#catalog.has(HEALTH_OPS.alerts)) return;
    const gen = ++this.#alertsGen;
    // Only alerts known before the request can be missing from its answer;
    // one whose event arrived meanwhile may be newer than the list.
    const before = new Set(this.#alerts.keys());
    try {
      const raw = await this.#client.runOperation(HEALTH_OPS.alerts, { state: 'all', limit: 500 });
      if (gen !== this.#alertsGen) return;
      const list = normalizeAlerts(raw);
      let merged = mergeAlerts(this.#alerts, list);
      // Every state was asked for: an active alert the backend no longer
      // lists as active moved on; trust the list when it is not truncated.
      if (list.length < 500) {
        const byId = new Map(list.map((a) => [a.id, a]));
        for (const a of merged.values()) {
          if (a.state !== 'resolved' && !byId.has(a.id) && before.has(a.id)) merged = mergeAlert(merged, { ...a, state: 'resolved' });
        }
      }
      this.#alerts = merged;
      this.#alertsError = null;
      this.#alertsLoaded = true;
    } catch (err) {
      if (gen === this.#alertsGen) this.#alertsError = asApiError(err);
    }
  }

  /** ack acknowledges an alert (alert_ack) and merges the answer. */
  async ack(id: string): Promise<OpResult<Alert>> {
    this.#acking[id] = true;
    try {
      const res = await this.#client.tryOperation<unknown>(HEALTH_OPS.ack, { id });
      if (!res.ok) return res;
      const a = normalizeAlert(res.value) ?? alertFromEvent(res.value);
      if (a) {
        this.#alerts = mergeAlert(this.#alerts, a);
        return { ok: true, value: this.#alerts.get(a.id) ?? a };
      }
      const cur = this.#alerts.get(id);
      if (cur && cur.state === 'raised') {
        this.#alerts = mergeAlert(this.#alerts, { ...cur, state: 'acknowledged', acked_at: new Date().toISOString() });
      }
      return { ok: true, value: this.#alerts.get(id)! };
    } finally {
      const next = { ...this.#acking };
      delete next[id];
      this.#acking = next;
    }
  }

  /** series makes a node's resource series (node_resources, then `health` reports). */
  series(node: string, windowSec = 300): ResourceSeries {
    return new ResourceSeries(this.#client, this, node, windowSec);
  }

  /**
   * start follows `health` and `alerts` events and, once the catalog says
   * the backend has health, loads the report and the alerts, polling the
   * report while no event keeps it fresh. It returns the stop function.
   */
  start(): () => void {
    const t = this.#opts.timers;
    const alertsSoon = throttled(this.#opts.alertsCoalesceMs, () => void this.refreshAlerts(), t);
    const offs = [
      this.#events.subscribe(HEALTH_TOPICS.health, (ev) => void this.applyReport(ev.data, () => alertsSoon())),
      this.#events.subscribe(HEALTH_TOPICS.alerts, (ev) => {
        if (!this.applyAlert(ev.data)) alertsSoon();
      }),
      this.#events.subscribe('resync', () => {
        void this.refresh();
        alertsSoon();
      }),
    ];
    let timer: unknown = null;
    let stopped = false;
    const tick = () => {
      timer = null;
      if (stopped) return;
      if (!this.#catalog.loaded) {
        timer = t.set(tick, this.#opts.catalogWaitMs);
        return;
      }
      if (this.available) {
        if (!this.#alertsLoaded) void this.refreshAlerts();
        if (!this.#reportAt || t.now() - this.#reportAt >= this.#opts.staleMs) void this.refresh();
      }
      timer = t.set(tick, this.#opts.pollMs);
    };
    tick();
    return () => {
      stopped = true;
      for (const off of offs) off();
      alertsSoon.cancel();
      if (timer !== null) t.clear(timer);
    };
  }
}

/**
 * ResourceSeries is one node's resource samples for the drawer's chart:
 * the last minutes from node_resources, then a point per `health` report.
 */
export class ResourceSeries {
  #client: ApiClient;
  #health: HealthStore;
  readonly node: string;
  readonly windowSec: number;
  #points = $state.raw<ResourcePoint[]>([]);
  #error = $state.raw<ApiError | null>(null);
  #loaded = $state(false);

  constructor(client: ApiClient, health: HealthStore, node: string, windowSec = 300) {
    this.#client = client;
    this.#health = health;
    this.node = node;
    this.windowSec = windowSec;
  }

  /** The samples, oldest first, within the window. */
  get points(): readonly ResourcePoint[] {
    return this.#points;
  }
  get error(): ApiError | null {
    return this.#error;
  }
  /** Whether node_resources has answered (or failed). */
  get loaded(): boolean {
    return this.#loaded;
  }

  /** add appends one sample (cluster.Resources JSON). */
  add(raw: unknown): void {
    const p = resourcePoint(raw, Date.now() / 1000);
    if (p) this.#points = appendPoint(this.#points, p, this.windowSec);
  }

  /** load reads the history from node_resources, keeping newer points already appended. */
  async load(): Promise<void> {
    try {
      const raw = await this.#client.runOperation(HEALTH_OPS.resources, { node: this.node, window: `${this.windowSec}s` });
      const now = Date.now() / 1000;
      let pts: ResourcePoint[] = [];
      for (const s of normalizeSamples(raw)) {
        const p = resourcePoint(s, now);
        if (p) pts = appendPoint(pts, p, this.windowSec);
      }
      const last = pts[pts.length - 1]?.t ?? -Infinity;
      for (const p of this.#points) if (p.t > last) pts = appendPoint(pts, p, this.windowSec);
      this.#points = pts;
      this.#error = null;
    } catch (err) {
      this.#error = asApiError(err);
    } finally {
      this.#loaded = true;
    }
  }

  /** start loads the history and appends every report's sample of the node; it returns the stop function. */
  start(): () => void {
    const off = this.#health.onReport((r) => {
      const n = r.nodes.find((x) => x.name === this.node);
      if (n?.resources) this.add(n.resources);
    });
    void this.load();
    return off;
  }
}

/**
 * TimelineStore is the membership timeline (membership_timeline) for the
 * Health view: every entry the backend keeps, a node filter, refreshed on
 * membership events and a slow timer while the view is open.
 */
export class TimelineStore {
  #client: ApiClient;
  #events: EventStream;
  #catalog: HealthCatalog;
  #timers: Timers;
  #entries = $state.raw<TimelineEntry[]>([]);
  #node = $state('');
  #error = $state.raw<ApiError | null>(null);
  #loaded = $state(false);
  #gen = 0;
  #filtered = $derived(filterTimeline(this.#entries, this.#node));
  #nodes = $derived(nodesOf(this.#entries));

  constructor(client: ApiClient, events: EventStream, catalog: HealthCatalog, timers: Timers = realTimers) {
    this.#client = client;
    this.#events = events;
    this.#catalog = catalog;
    this.#timers = timers;
  }

  get available(): boolean {
    return this.#catalog.has(HEALTH_OPS.timeline);
  }
  /** Every entry, oldest first. */
  get entries(): readonly TimelineEntry[] {
    return this.#entries;
  }
  /** The entries seen by or about the filter node. */
  get filtered(): readonly TimelineEntry[] {
    return this.#filtered;
  }
  /** Every node the timeline names. */
  get nodes(): readonly string[] {
    return this.#nodes;
  }
  get node(): string {
    return this.#node;
  }
  get error(): ApiError | null {
    return this.#error;
  }
  get loaded(): boolean {
    return this.#loaded;
  }

  /** setNode filters the timeline to one node ("" for all). */
  setNode(node: string): void {
    this.#node = node;
  }

  /** refresh reads the timeline. */
  async refresh(): Promise<void> {
    if (!this.available) return;
    const gen = ++this.#gen;
    try {
      const raw = await this.#client.runOperation(HEALTH_OPS.timeline, { limit: 500 });
      if (gen !== this.#gen) return;
      this.#entries = normalizeTimeline(raw);
      this.#error = null;
      this.#loaded = true;
    } catch (err) {
      if (gen === this.#gen) this.#error = asApiError(err);
    }
  }

  /**
   * start refreshes now, after membership events (the monitor records them
   * on its next tick, so a little later) and every pollMs. It returns the
   * stop function.
   */
  start(pollMs = 3000): () => void {
    const soon = throttled(1200, () => void this.refresh(), this.#timers);
    const off = this.#events.subscribe('membership', () => soon());
    void this.refresh();
    let timer: unknown = null;
    const tick = () => {
      void this.refresh();
      timer = this.#timers.set(tick, pollMs);
    };
    timer = this.#timers.set(tick, pollMs);
    return () => {
      off();
      soon.cancel();
      if (timer !== null) this.#timers.clear(timer);
    };
  }
}
