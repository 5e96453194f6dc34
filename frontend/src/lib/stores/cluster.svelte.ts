import type { ApiClient } from '../api/client';
import { asApiError, type ApiError } from '../api/errors';
import type { EventStream } from '../api/events';
import { normalizeNodes } from '../api/normalize';
import type { BackendInfo, NodeInfo, Topology } from '../api/types';
import { throttled, realTimers, type Timers } from '../logic/coalesce';
import { connectivitySummary, deriveEdges, partitionGroups, seenAliveBy, type TopologyEdge } from '../logic/topology';

/** Options of ClusterStore. */
export interface ClusterStoreOptions {
  /** Background refresh period (ms) while started; default 2000. */
  pollMs?: number;
  /** Shortest time between two event-driven refreshes (ms); default 150. */
  coalesceMs?: number;
  /** Whether the background poll should run now (false while the page is hidden). */
  shouldPoll?: () => boolean;
  timers?: Timers;
}

/**
 * ClusterStore holds the cluster as the topology, the node lists and the
 * simulator panel show it: nodes with health, role and process counts, and
 * who can reach whom. It refreshes on membership and process events
 * (coalesced) and on a slow timer, and applies membership snapshots from
 * events at once so a node's colour changes without a round trip.
 */
export class ClusterStore {
  #client: ApiClient;
  #events: EventStream;
  #opts: Required<Omit<ClusterStoreOptions, 'timers'>> & { timers: Timers };
  #topology = $state.raw<Topology | null>(null);
  #info = $state.raw<BackendInfo | null>(null);
  #error = $state.raw<ApiError | null>(null);
  #loading = $state(false);
  #updatedAt = $state(0);
  #gen = 0;
  #applied = 0;

  #nodes = $derived(this.#topology?.nodes ?? []);
  #edges = $derived(deriveEdges(this.#nodes, this.#topology?.links ?? []));
  #groups = $derived(partitionGroups(this.#nodes, this.#edges));
  #summary = $derived(this.#topology ? connectivitySummary(this.#nodes, this.#edges) : '');
  #workers = $derived(this.#nodes.filter((n) => n.role !== 'observer'));
  #seenBy = $derived(seenAliveBy(this.#nodes, this.#topology?.links ?? []));

  constructor(client: ApiClient, events: EventStream, opts: ClusterStoreOptions = {}) {
    this.#client = client;
    this.#events = events;
    this.#opts = {
      pollMs: 2000,
      coalesceMs: 150,
      timers: realTimers,
      shouldPoll: () => typeof document === 'undefined' || !document.hidden,
      ...opts,
    };
  }

  /** Every node (workers and the observer), sorted by name. */
  get nodes(): readonly NodeInfo[] {
    return this.#nodes;
  }

  /** The nodes that can host processes (role other than observer). */
  get workers(): readonly NodeInfo[] {
    return this.#workers;
  }

  /** Undirected edges with their reachability state. */
  get edges(): readonly TopologyEdge[] {
    return this.#edges;
  }

  /** For each node, how many running workers see it alive. */
  seenBy(name: string): { by: number; of: number } | undefined {
    return this.#seenBy.get(name);
  }

  /** Groups of live nodes that can talk both ways (more than one = partition). */
  get groups(): readonly string[][] {
    return this.#groups;
  }

  /** A sentence about connectivity. */
  get summary(): string {
    return this.#summary;
  }

  get topology(): Topology | null {
    return this.#topology;
  }

  get info(): BackendInfo | null {
    return this.#info;
  }

  /** Whether the backend runs the embedded simulator. */
  get simulated(): boolean {
    return this.#info?.simulated ?? this.#topology?.simulated ?? false;
  }

  /** The simulator's seed, when simulated. */
  get seed(): number | undefined {
    return this.#info?.seed ?? this.#topology?.seed;
  }

  get observer(): string {
    return this.#info?.observer || this.#topology?.observer || '';
  }

  get error(): ApiError | null {
    return this.#error;
  }

  get loading(): boolean {
    return this.#loading;
  }

  /** When the topology was last replaced (ms since epoch; 0 before). */
  get updatedAt(): number {
    return this.#updatedAt;
  }

  /** node returns one node by name. */
  node(name: string): NodeInfo | undefined {
    return this.#nodes.find((n) => n.name === name);
  }

  /** loadInfo reads what the backend is (simulated, seed, observer). */
  async loadInfo(): Promise<void> {
    try {
      this.#info = await this.#client.info();
    } catch (err) {
      this.#error = asApiError(err);
    }
  }

  /**
   * refresh reloads the topology. Answers arrive in any order; only the
   * newest request's answer is applied. Failures are kept in `error`
   * (the last good topology stays on screen).
   */
  async refresh(): Promise<void> {
    const gen = ++this.#gen;
    this.#loading = true;
    try {
      const t = await this.#client.topology();
      if (gen < this.#applied) return;
      this.#applied = gen;
      this.#topology = t;
      this.#error = null;
      this.#updatedAt = this.#opts.timers.now();
    } catch (err) {
      if (gen >= this.#applied) this.#error = asApiError(err);
    } finally {
      if (gen === this.#gen) this.#loading = false;
    }
  }

  /**
   * applyMembership merges a membership snapshot ({members: [...]}) from an
   * event into the nodes at once: states, roles and tags change without
   * waiting for the next refresh; counts and links come with it.
   */
  applyMembership(snapshot: unknown): void {
    const t = this.#topology;
    if (!t) return;
    const members = normalizeNodes((snapshot as { members?: unknown } | null)?.members ?? []);
    if (members.length === 0) return;
    const byName = new Map(members.map((m) => [m.name, m]));
    const nodes = t.nodes.map((n) => {
      const m = byName.get(n.name);
      return m ? { ...n, state: m.state, role: m.role || n.role, tags: m.tags ?? n.tags, since: m.since ?? n.since } : n;
    });
    for (const m of members) if (!t.nodes.some((n) => n.name === m.name)) nodes.push(m);
    nodes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.#topology = { ...t, nodes };
    this.#updatedAt = this.#opts.timers.now();
  }

  /**
   * patchNode changes one node at once (an operation's answer, such as a
   * crash's sim_state, shows before the next refresh).
   */
  patchNode(name: string, patch: Partial<NodeInfo>): void {
    const t = this.#topology;
    if (!t || !t.nodes.some((n) => n.name === name)) return;
    this.#topology = { ...t, nodes: t.nodes.map((n) => (n.name === name ? { ...n, ...patch } : n)) };
  }

  /** setTopology replaces the topology (tests, and a just-run operation that returned one). */
  setTopology(t: Topology): void {
    this.#topology = t;
    this.#updatedAt = this.#opts.timers.now();
  }

  /**
   * start loads everything, follows membership and process events, and
   * polls slowly for what events do not carry (links, counts). It returns
   * the stop function.
   */
  start(): () => void {
    const refreshSoon = throttled(this.#opts.coalesceMs, () => void this.refresh(), this.#opts.timers);
    const offs = [
      this.#events.subscribe('membership', (ev) => {
        this.applyMembership(ev.data);
        refreshSoon();
      }),
      this.#events.subscribe('process.exits', () => refreshSoon()),
      this.#events.subscribe('resync', () => refreshSoon()),
    ];
    void this.loadInfo();
    void this.refresh();
    let timer: unknown = null;
    const tick = () => {
      if (this.#opts.shouldPoll()) void this.refresh();
      timer = this.#opts.timers.set(tick, this.#opts.pollMs);
    };
    timer = this.#opts.timers.set(tick, this.#opts.pollMs);
    return () => {
      for (const off of offs) off();
      refreshSoon.cancel();
      if (timer !== null) this.#opts.timers.clear(timer);
    };
  }
}
