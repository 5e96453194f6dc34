import type { ApiClient } from '../api/client';
import { asApiError, type ApiError } from '../api/errors';
import type { EventStream } from '../api/events';
import { pidString } from '../api/normalize';
import type { NodeError, ProcessInfo, ProcessSortField } from '../api/types';
import { realTimers, throttled, type Timers } from '../logic/coalesce';
import { nextPageRequest, refreshLimit } from '../logic/paging';
import { RateTracker } from '../logic/rates';
import {
  EMPTY_FILTERS,
  buildQuery,
  filterProblems,
  filtersEqual,
  nextSort,
  type ProcessFilters,
  type SortState,
} from '../logic/processQuery';

/** Options of ProcessesStore. */
export interface ProcessesStoreOptions {
  /** Rows per page; default 200. */
  pageSize?: number;
  /** Shortest time between two event-driven refreshes (ms); default 1000. */
  liveMs?: number;
  timers?: Timers;
  now?: () => number;
}

/**
 * ProcessesStore is the cluster-wide process table: server-side filters,
 * sort and cursor paging (list_processes), rows loaded on demand as the
 * virtualized table scrolls, and live refresh on process exits.
 */
export class ProcessesStore {
  #client: ApiClient;
  #events: EventStream;
  #pageSize: number;
  #liveMs: number;
  #timers: Timers;
  #now: () => number;

  #filters = $state.raw<ProcessFilters>(EMPTY_FILTERS);
  #sort = $state.raw<SortState>({ field: 'pid', desc: false });
  #rows = $state.raw<ProcessInfo[]>([]);
  #total = $state(0);
  #nextCursor = $state('');
  #missing = $state.raw<NodeError[]>([]);
  #loading = $state(false);
  #error = $state.raw<ApiError | null>(null);
  #roundTripMs = $state(0);
  #live = $state(true);
  #selected = $state<string | null>(null);
  #problems = $derived(filterProblems(this.#filters));
  #tracker = new RateTracker();
  #rates = $state.raw<ReadonlyMap<string, number>>(new Map());

  #gen = 0;
  #changeFns = new Set<() => void>();
  #moreInFlight = false;
  #wantEnd = 0;

  constructor(client: ApiClient, events: EventStream, opts: ProcessesStoreOptions = {}) {
    this.#client = client;
    this.#events = events;
    this.#pageSize = opts.pageSize ?? 200;
    this.#liveMs = opts.liveMs ?? 1000;
    this.#timers = opts.timers ?? realTimers;
    this.#now = opts.now ?? (() => performance.now());
  }

  get filters(): ProcessFilters {
    return this.#filters;
  }
  get sort(): SortState {
    return this.#sort;
  }
  /** Rows loaded so far (indices 0..rows.length-1 of total). */
  get rows(): readonly ProcessInfo[] {
    return this.#rows;
  }
  /** Matching processes on the nodes that answered. */
  get total(): number {
    return this.#total;
  }
  /** Nodes that did not answer the last query, and why. */
  get missing(): readonly NodeError[] {
    return this.#missing;
  }
  get loading(): boolean {
    return this.#loading;
  }
  get error(): ApiError | null {
    return this.#error;
  }
  /** Duration of the last first-page query (filter/sort round trip), ms. */
  get roundTripMs(): number {
    return this.#roundTripMs;
  }
  /** Whether the table refreshes itself on process exits. */
  get live(): boolean {
    return this.#live;
  }
  /** Client-side filter problems (shown inline; such filters are not sent). */
  get problems(): Partial<Record<keyof ProcessFilters, string>> {
    return this.#problems;
  }
  /** rate is a process's messages in per second between the last two loads that saw it. */
  rate(pid: string): number | undefined {
    return this.#rates.get(pid);
  }

  #observe(rows: readonly ProcessInfo[]): void {
    this.#rates = new Map(this.#tracker.observe(rows, Date.now()));
  }

  get hasMore(): boolean {
    return this.#nextCursor !== '';
  }

  setLive(on: boolean): void {
    this.#live = on;
  }

  /** The selected process (a highlighted row), null for none. */
  get selected(): string | null {
    return this.#selected;
  }

  select(pid: string | null): void {
    if (this.#selected === (pid || null)) return;
    this.#selected = pid || null;
    this.#changed();
  }

  /** onChange calls fn after each change of the filters, the sort or the selection (what a session saves). It returns the unsubscribe. */
  onChange(fn: () => void): () => void {
    this.#changeFns.add(fn);
    return () => this.#changeFns.delete(fn);
  }

  #changed(): void {
    for (const fn of [...this.#changeFns]) fn();
  }

  /**
   * restore sets the filters and sort a session saved. The table reloads
   * when it has loaded before and something changed; otherwise the view
   * loads it when it shows.
   */
  restore(filters: ProcessFilters, sort: SortState): Promise<void> {
    const changed = !filtersEqual(filters, this.#filters) || sort.field !== this.#sort.field || sort.desc !== this.#sort.desc;
    this.#filters = { ...filters };
    this.#sort = { ...sort };
    if (changed) this.#changed();
    if (changed && (this.#rows.length > 0 || this.#total > 0 || this.#error)) return this.reload();
    return Promise.resolve();
  }

  /** setFilter changes one filter and reloads from the first page. */
  setFilter(key: keyof ProcessFilters, value: string): Promise<void> {
    this.#filters = { ...this.#filters, [key]: value };
    this.#changed();
    return this.reload();
  }

  /** setFilters replaces every filter and reloads. */
  setFilters(f: ProcessFilters): Promise<void> {
    this.#filters = { ...f };
    this.#changed();
    return this.reload();
  }

  /** toggleSort sorts by a column (again: flips the direction) and reloads. */
  toggleSort(field: ProcessSortField): Promise<void> {
    this.#sort = nextSort(this.#sort, field);
    this.#changed();
    return this.reload();
  }

  /** setSort sets the order and reloads. */
  setSort(s: SortState): Promise<void> {
    this.#sort = { ...s };
    this.#changed();
    return this.reload();
  }

  /** reload fetches the first page for the current filters and sort. */
  reload(): Promise<void> {
    return this.#loadFirst(this.#pageSize);
  }

  /** refresh reloads keeping as many rows as are loaded (for live updates). */
  refresh(): Promise<void> {
    return this.#loadFirst(refreshLimit(this.#rows.length, this.#pageSize));
  }

  async #loadFirst(limit: number): Promise<void> {
    if (Object.keys(this.#problems).length > 0) return;
    const gen = ++this.#gen;
    this.#wantEnd = 0;
    this.#loading = true;
    const t0 = this.#now();
    try {
      const page = await this.#client.processes(buildQuery(this.#filters, this.#sort, limit));
      if (gen !== this.#gen) return;
      this.#roundTripMs = this.#now() - t0;
      this.#rows = page.processes;
      this.#observe(page.processes);
      this.#total = page.total;
      this.#nextCursor = page.next_cursor ?? '';
      this.#missing = page.missing ?? [];
      this.#error = null;
    } catch (err) {
      if (gen === this.#gen) this.#error = asApiError(err);
    } finally {
      if (gen === this.#gen) this.#loading = false;
    }
  }

  /**
   * ensureLoaded makes sure rows up to `end` are loaded (the table calls it
   * with the last visible row), fetching the next pages by cursor. One
   * request at a time; a newer want is served when it returns.
   */
  async ensureLoaded(end: number): Promise<void> {
    this.#wantEnd = Math.max(this.#wantEnd, end);
    if (this.#moreInFlight) return;
    this.#moreInFlight = true;
    try {
      for (;;) {
        const req = nextPageRequest(
          { loaded: this.#rows.length, total: this.#total, nextCursor: this.#nextCursor },
          this.#wantEnd,
          this.#pageSize,
        );
        if (!req) return;
        const gen = this.#gen;
        let page;
        try {
          page = await this.#client.processes(buildQuery(this.#filters, this.#sort, req.limit, req.cursor));
        } catch (err) {
          if (gen === this.#gen) this.#error = asApiError(err);
          return;
        }
        if (gen !== this.#gen) continue; // filters changed meanwhile: recompute from the new first page
        this.#rows = [...this.#rows, ...page.processes];
        this.#observe(page.processes);
        this.#total = page.total;
        this.#nextCursor = page.next_cursor ?? '';
        if (page.missing?.length) this.#missing = page.missing;
      }
    } finally {
      this.#moreInFlight = false;
    }
  }

  /** removeLocal drops processes from the loaded rows (after a kill, or their exit event). */
  removeLocal(pids: Iterable<string>): void {
    const gone = new Set(pids);
    if (gone.size === 0) return;
    const before = this.#rows.length;
    this.#rows = this.#rows.filter((r) => !gone.has(r.pid));
    this.#total = Math.max(0, this.#total - (before - this.#rows.length));
  }

  /** kill kills a process (the view asked for confirmation) and drops it from the table. */
  async kill(pid: string, reason?: string): Promise<void> {
    await this.#client.killProcess(pid, reason);
    this.removeLocal([pid]);
  }

  /**
   * start follows process exits: exited rows vanish at once and, while
   * live, the table refreshes at most once per liveMs. It returns the stop
   * function.
   */
  start(): () => void {
    const refreshSoon = throttled(this.#liveMs, () => void this.refresh(), this.#timers);
    const off = this.#events.subscribe('process.exits', (ev) => {
      const exits = (ev.data as { exits?: unknown[] } | null)?.exits;
      if (Array.isArray(exits)) {
        this.removeLocal(exits.map((e) => pidString((e as { pid?: unknown })?.pid)).filter(Boolean));
      }
      if (this.#live) refreshSoon();
    });
    const offResync = this.#events.subscribe('resync', () => refreshSoon());
    return () => {
      off();
      offResync();
      refreshSoon.cancel();
    };
  }
}
