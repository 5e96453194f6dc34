import type { ApiClient } from '../api/client';
import { asApiError, type ApiError } from '../api/errors';
import type { EventStream } from '../api/events';
import { realTimers, type Timers } from '../logic/coalesce';
import {
  MODE_SIMULATOR,
  normalizeHistory,
  normalizeProjects,
  normalizeRecordResult,
  normalizeSessionInfo,
  type ConnectionProfile,
  type OperationRecord,
  type ProjectList,
  type RecentCluster,
  type RecordResult,
  type SessionInfo,
  type WireUIState,
} from '../logic/session';
import {
  classifyConnectError,
  connectFromProfile,
  emptyConnect,
  FAILURE_TEXT,
  type ConnectFailure,
  type ConnectInput,
} from '../logic/sessionConnect';
import { DebouncedSaver } from '../logic/sessionSave';
import { uiFromWire, uiKey, uiToWire, type LocalUI } from '../logic/sessionUI';
import type { PinsStore } from './pins.svelte';
import type { ProcessesStore } from './processes.svelte';
import type { Toasts } from './toasts.svelte';

/** What the session needs from the app around it. */
export interface SessionHost {
  /** The views the UI has (a saved view it lacks falls back to the first). */
  views: readonly string[];
  view(): string;
  /** setView shows a view (and puts it in the address). */
  setView(v: string): void;
  /** The selected object ("" for none). */
  selection(): string;
  select(sel: string): void;
  /** The backend changed (mode or project): reload the catalog and what shows the cluster. */
  backendChanged(): void;
  /** Whether the page was opened at a view its address names (the restored view then does not replace it at launch). */
  explicitView?(): boolean;
  /** openTrace shows a trace in the Traces view (a restored open trace). */
  openTrace?(id: string): void;
  /** currentTrace is the trace the address shows ('' for none, null when not on the Traces view). */
  currentTrace?(): string | null;
  /** onLocationChange calls fn when the address changes; it returns the unsubscribe. */
  onLocationChange?(fn: () => void): () => void;
}

/** Options of SessionStore. */
export interface SessionStoreOptions {
  /** Quiet time before the UI state is saved (ms); default 500. */
  saveDelayMs?: number;
  timers?: Timers;
  /** Wall clock (ms since the epoch), for the recording clock. */
  now?: () => number;
}

/** What the session is busy with (shown on the controls), '' when idle. */
export type SessionBusy = '' | 'loading' | 'switching project' | 'connecting' | 'disconnecting' | 'switching mode' | 'recording';

/** The connect dialog's state. */
export interface ConnectDialogState {
  input: ConnectInput;
  /** The last join's failure, with which way it failed. */
  error: ApiError | null;
  failure: ConnectFailure | null;
}

/**
 * Codes of session_get / history_list that mean "this backend has no
 * session store" (an agent answers unprocessable; an older backend does
 * not know the operation).
 */
const UNAVAILABLE = new Set(['unknown_operation', 'unprocessable', 'unavailable', 'not_implemented']);

/**
 * SessionStore is the project's session as the UI sees it: it restores the
 * saved UI state on launch (view, selection, processes filters and sort,
 * pins, panel sizes, open traces), saves every change (debounced), follows
 * the `session` event (another window, a mode switch), switches projects,
 * connects to and disconnects from real clusters, records scenarios and
 * lists the operation history.
 */
export class SessionStore {
  #client: ApiClient;
  #events: EventStream;
  #toasts: Toasts;
  #processes: ProcessesStore;
  #pins: PinsStore;
  #host: SessionHost;
  #timers: Timers;
  #now: () => number;
  #saver: DebouncedSaver<WireUIState>;

  #info = $state.raw<SessionInfo | null>(null);
  #available = $state(true);
  #error = $state.raw<ApiError | null>(null);
  #restored = $state(false);
  #busy = $state<SessionBusy>('');
  #projects = $state.raw<ProjectList | null>(null);
  #projectsError = $state.raw<ApiError | null>(null);
  #history = $state.raw<OperationRecord[]>([]);
  #historyError = $state.raw<ApiError | null>(null);
  #historyLoading = $state(false);
  #dialog = $state.raw<ConnectDialogState | null>(null);
  #recordingSince = $state<number | null>(null);
  #recordResult = $state.raw<RecordResult | null>(null);
  #recordError = $state.raw<ApiError | null>(null);
  #panelSizes = $state.raw<Record<string, number>>({});
  #openTraces = $state.raw<string[]>([]);
  #otherFilters = $state.raw<Record<string, string>>({});
  #saveErrorShown = false;

  constructor(
    client: ApiClient,
    events: EventStream,
    toasts: Toasts,
    processes: ProcessesStore,
    pins: PinsStore,
    host: SessionHost,
    opts: SessionStoreOptions = {},
  ) {
    this.#client = client;
    this.#events = events;
    this.#toasts = toasts;
    this.#processes = processes;
    this.#pins = pins;
    this.#host = host;
    this.#timers = opts.timers ?? realTimers;
    this.#now = opts.now ?? (() => Date.now());
    this.#saver = new DebouncedSaver<WireUIState>((ui) => this.#saveUI(ui), {
      delayMs: opts.saveDelayMs ?? 500,
      timers: this.#timers,
      key: uiKey,
      onError: (err) => {
        const e = asApiError(err);
        if (this.#saveErrorShown) return;
        this.#saveErrorShown = true;
        this.#toasts.error('Saving the session failed', e);
      },
      onSaved: () => (this.#saveErrorShown = false),
    });
  }

  // ---- what the UI shows ----

  /** session_get's last answer (null until loaded, or without a session store). */
  get info(): SessionInfo | null {
    return this.#info;
  }
  /** Whether the backend has the session operations. */
  get available(): boolean {
    return this.#available;
  }
  /** Loading the session failed (other than "not available"). */
  get error(): ApiError | null {
    return this.#error;
  }
  /** Whether the saved UI state was applied. */
  get restored(): boolean {
    return this.#restored;
  }
  get busy(): SessionBusy {
    return this.#busy;
  }
  get project(): string {
    return this.#info?.project ?? '';
  }
  /** "simulator" or the connection profile's name. */
  get mode(): string {
    return this.#info?.mode ?? MODE_SIMULATOR;
  }
  /** Whether the session says the backend is the simulator (null before it is known). */
  get simulated(): boolean | null {
    return this.#info ? this.#info.simulated : null;
  }
  get connected(): boolean {
    return !!this.#info && this.#info.mode !== MODE_SIMULATOR && !this.#info.simulated;
  }
  get recentClusters(): readonly RecentCluster[] {
    return this.#info?.session.recent_clusters ?? [];
  }
  get profiles(): readonly ConnectionProfile[] {
    return this.#info?.session.connection_profiles ?? [];
  }
  get projects(): ProjectList | null {
    return this.#projects;
  }
  get projectsError(): ApiError | null {
    return this.#projectsError;
  }
  get history(): readonly OperationRecord[] {
    return this.#history;
  }
  get historyError(): ApiError | null {
    return this.#historyError;
  }
  get historyLoading(): boolean {
    return this.#historyLoading;
  }
  get recording(): boolean {
    return this.#info?.recording ?? false;
  }
  /** When the recording started (ms since the epoch), null when not recording. */
  get recordingSince(): number | null {
    return this.recording ? this.#recordingSince : null;
  }
  /** The last stopped recording: path, YAML, warnings. */
  get recordResult(): RecordResult | null {
    return this.#recordResult;
  }
  get recordError(): ApiError | null {
    return this.#recordError;
  }
  /** The connect dialog (null when closed). */
  get dialog(): ConnectDialogState | null {
    return this.#dialog;
  }
  /** Whether a UI change waits to be saved. */
  get savePending(): boolean {
    return this.#saver.pending;
  }
  /** Saves done and failed (for tests and diagnostics). */
  get saveStats(): { saves: number; failures: number } {
    return { saves: this.#saver.saves, failures: this.#saver.failures };
  }
  get openTraces(): readonly string[] {
    return this.#openTraces;
  }

  /** panelSize is a saved panel size, or the fallback. */
  panelSize(key: string, fallback: number): number {
    const v = this.#panelSizes[key];
    return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
  }

  setPanelSize(key: string, v: number): void {
    if (!Number.isFinite(v) || v < 0 || this.#panelSizes[key] === v) return;
    this.#panelSizes = { ...this.#panelSizes, [key]: v };
    this.noteChange();
  }

  /** setOpenTraces records the traces open in the UI. */
  setOpenTraces(ids: string[]): void {
    const next = [...new Set(ids.filter(Boolean))].slice(0, 100);
    if (next.join('\n') === this.#openTraces.join('\n')) return;
    this.#openTraces = next;
    this.noteChange();
  }

  // ---- the UI state ----

  /** snapshot is the UI state now. */
  snapshot(): LocalUI {
    return {
      view: this.#host.view(),
      selection: this.#host.selection(),
      filters: this.#processes.filters,
      otherFilters: this.#otherFilters,
      sort: this.#processes.sort,
      pins: this.#pins.pins,
      panelSizes: this.#panelSizes,
      openTraces: this.#openTraces,
    };
  }

  /** apply shows a saved UI state (the view too unless keepView). */
  apply(ui: LocalUI, opts: { keepView?: boolean } = {}): void {
    this.#otherFilters = ui.otherFilters;
    this.#panelSizes = ui.panelSizes;
    this.#openTraces = ui.openTraces;
    void this.#processes.restore(ui.filters, ui.sort);
    void this.#pins.replace(ui.pins);
    if (!opts.keepView) this.#host.setView(ui.view);
    this.#host.select(ui.selection);
    if (!opts.keepView && ui.view === 'traces' && ui.openTraces[0]) void this.#reopenTrace(ui.openTraces[0]);
    // What was just applied is what the server has: nothing to save back.
    this.#saver.baseline(uiToWire(this.snapshot()));
  }

  /** noteChange schedules a save of the UI state as it is now (every change of what it keeps calls it). */
  noteChange(): void {
    if (!this.#restored || !this.#available) return;
    this.#saver.schedule(uiToWire(this.snapshot()));
  }

  /** flush saves a waiting change now (before a switch, or when the page hides). */
  flush(): Promise<void> {
    return this.#saver.flush();
  }

  /** #reopenTrace shows a restored open trace when the backend still has it. */
  async #reopenTrace(id: string): Promise<void> {
    if (!this.#host.openTrace) return;
    const r = await this.#client.tryOperation<{ traces?: { id?: unknown }[] }>('trace_list', {});
    const known = r.ok && Array.isArray(r.value?.traces) && r.value.traces.some((t) => String(t?.id ?? '') === id);
    if (known && this.#host.view() === 'traces') this.#host.openTrace(id);
  }

  async #saveUI(ui: WireUIState): Promise<void> {
    await this.#client.runOperation('session_save_ui', { ui });
  }

  // ---- loading and following ----

  /**
   * load asks session_get. A backend without session operations leaves the
   * store unavailable (the UI hides what needs it) without an error toast.
   */
  async load(): Promise<SessionInfo | null> {
    try {
      const raw = await this.#client.runOperation('session_get', {});
      this.#available = true;
      this.#error = null;
      return normalizeSessionInfo(raw);
    } catch (err) {
      const e = asApiError(err);
      if (UNAVAILABLE.has(e.code) || (e.code === 'not_found' && /operation/i.test(e.message))) {
        this.#available = false;
        this.#error = null;
      } else {
        this.#error = e;
        this.#toasts.error('Loading the session failed', e);
      }
      return null;
    }
  }

  /** restore loads the session and applies its UI state (at launch). */
  async restore(launch = true): Promise<void> {
    this.#busy = 'loading';
    try {
      const info = await this.load();
      if (!info) return;
      this.#setInfo(info);
      if (info.notice) this.#toasts.warning('The session could not be restored as it was', info.notice);
      this.apply(uiFromWire(info.session.ui, this.#host.views, this.#host.views[0]), {
        keepView: launch && (this.#host.explicitView?.() ?? false),
      });
      this.#restored = true;
    } finally {
      this.#busy = '';
    }
  }

  #setInfo(info: SessionInfo): void {
    const prev = this.#info;
    this.#info = info;
    if (info.recording && (!prev?.recording || this.#recordingSince === null)) {
      const since = info.recording_since ? Date.parse(info.recording_since) : NaN;
      this.#recordingSince = Number.isFinite(since) ? since : this.#now();
    } else if (!info.recording) {
      this.#recordingSince = null;
    }
  }

  /**
   * follow applies a newer session: a new project restores everything, a
   * new mode the pins and selection SwitchMode recomputed, and either one
   * reloads what shows the cluster; otherwise only the recording state and
   * the lists (recent clusters, profiles) change.
   */
  follow(info: SessionInfo): void {
    const prev = this.#info;
    this.#setInfo(info);
    if (!prev || !this.#restored) return;
    if (prev.project !== info.project) {
      this.#saver.cancel();
      this.#projects = null;
      this.apply(uiFromWire(info.session.ui, this.#host.views, this.#host.views[0]));
      this.#host.backendChanged();
    } else if (prev.mode !== info.mode || prev.simulated !== info.simulated) {
      const ui = uiFromWire(info.session.ui, this.#host.views, this.#host.views[0]);
      void this.#pins.replace(ui.pins);
      this.#host.select(ui.selection);
      this.#saver.baseline(uiToWire(this.snapshot()));
      this.#host.backendChanged();
    }
  }

  /**
   * start restores the session once the catalog is loaded, then saves every
   * UI change and follows the `session` event. It returns the stop function.
   */
  start(catalogReady: Promise<unknown> = Promise.resolve()): () => void {
    let stopped = false;
    const off = this.#events.subscribe('session', (ev) => {
      if (!this.#available) return;
      // A launch whose session_get failed (the backend was restarting) restores now.
      if (!this.#restored && this.#error && this.#busy !== 'loading') {
        void this.restore(true);
        return;
      }
      this.follow(normalizeSessionInfo(ev.data));
    });
    void catalogReady
      .catch(() => undefined)
      .then(() => (stopped ? undefined : this.restore(true)));
    // Every change of the processes table (filters, sort, selection) and of the pins schedules a save;
    // the app calls noteChange for the view and the selection.
    const offChanges = [this.#processes.onChange(() => this.noteChange()), this.#pins.onChange(() => this.noteChange())];
    // The trace the Traces view shows is the open trace.
    if (this.#host.onLocationChange && this.#host.currentTrace) {
      const current = this.#host.currentTrace;
      offChanges.push(
        this.#host.onLocationChange(() => {
          const id = current();
          if (id !== null) this.setOpenTraces(id ? [id] : []);
        }),
      );
    }
    const onHide = () => {
      if (typeof document !== 'undefined' && document.visibilityState === 'hidden') void this.flush();
    };
    if (typeof document !== 'undefined') document.addEventListener('visibilitychange', onHide);
    return () => {
      stopped = true;
      off();
      for (const f of offChanges) f();
      if (typeof document !== 'undefined') document.removeEventListener('visibilitychange', onHide);
      void this.flush();
    };
  }

  // ---- operations that change the session ----

  async #switch(busy: SessionBusy, name: string, params: Record<string, unknown>): Promise<SessionInfo> {
    await this.flush().catch(() => undefined);
    this.#busy = busy;
    try {
      const info = normalizeSessionInfo(await this.#client.runOperation(name, params));
      this.follow(info);
      return info;
    } finally {
      this.#busy = '';
    }
  }

  /** loadProjects lists the projects of the store. */
  async loadProjects(): Promise<void> {
    try {
      this.#projects = normalizeProjects(await this.#client.runOperation('projects_list', {}));
      this.#projectsError = null;
    } catch (err) {
      this.#projectsError = asApiError(err);
    }
  }

  /** switchProject switches to a project (created if new) and restores its state. */
  async switchProject(name: string): Promise<boolean> {
    name = name.trim();
    if (!name || name === this.project) return false;
    try {
      await this.#switch('switching project', 'project_switch', { name });
      this.#toasts.success(`Switched to project ${name}`);
      void this.loadProjects();
      return true;
    } catch (err) {
      this.#toasts.error(`Switching to project ${name} failed`, err);
      return false;
    }
  }

  /** switchMode switches to the simulator or a saved connection profile. */
  async switchMode(mode: string): Promise<ApiError | null> {
    try {
      await this.#switch('switching mode', 'mode_switch', { mode });
      this.#toasts.success(mode === MODE_SIMULATOR ? 'Back on the simulator' : `Connected to ${mode}`);
      return null;
    } catch (err) {
      return asApiError(err);
    }
  }

  /** disconnect leaves the real cluster and returns to the simulator. */
  async disconnect(): Promise<boolean> {
    try {
      await this.#switch('disconnecting', 'cluster_disconnect', {});
      this.#toasts.success('Disconnected: back on the simulator');
      return true;
    } catch (err) {
      this.#toasts.error('Disconnecting failed', err);
      return false;
    }
  }

  /**
   * connect joins a real cluster (cluster_connect). On failure the dialog
   * shows the error and which way it failed; the app stays where it was.
   */
  async connect(params: Record<string, unknown>): Promise<boolean> {
    if (this.#dialog) this.#dialog = { ...this.#dialog, error: null, failure: null };
    try {
      const info = await this.#switch('connecting', 'cluster_connect', params);
      this.#dialog = null;
      this.#toasts.success(`Connected to ${info.mode}`, info.session.recent_clusters[0]?.seeds.join(', ') ?? '');
      return true;
    } catch (err) {
      const e = asApiError(err);
      const failure = classifyConnectError(e);
      this.#dialog = { input: this.#dialog?.input ?? emptyConnect(), error: e, failure };
      return false;
    }
  }

  /**
   * connectRecent connects to a recent cluster in one click: through its
   * saved profile when there is one (mode_switch), otherwise (or when that
   * fails) the dialog opens filled in.
   */
  async connectRecent(rc: RecentCluster): Promise<void> {
    const prof = this.profiles.find((p) => p.name === rc.profile);
    if (!prof) {
      this.openConnect(connectFromProfile(rc));
      return;
    }
    const err = await this.switchMode(prof.name);
    if (err) this.#dialog = { input: connectFromProfile(prof), error: err, failure: classifyConnectError(err) };
  }

  /** openConnect opens the connect dialog, optionally filled in. */
  openConnect(input?: ConnectInput): void {
    this.#dialog = { input: input ?? emptyConnect(), error: null, failure: null };
  }

  /** setConnectInput keeps the dialog's input (so a failed join shows it again). */
  setConnectInput(input: ConnectInput): void {
    if (this.#dialog) this.#dialog = { ...this.#dialog, input };
  }

  closeConnect(): void {
    if (this.#busy === 'connecting') return;
    this.#dialog = null;
  }

  /** The words for the dialog's failure. */
  failureText(f: ConnectFailure | null): { title: string; fix: string } | null {
    return f ? FAILURE_TEXT[f] : null;
  }

  // ---- recording ----

  /** startRecording starts recording operations and faults as a scenario. */
  async startRecording(): Promise<boolean> {
    this.#recordError = null;
    this.#busy = 'recording';
    try {
      const r = (await this.#client.runOperation<{ recording?: boolean; since?: string }>('record_start', {})) ?? {};
      const since = typeof r.since === 'string' ? r.since : undefined;
      if (this.#info) this.#setInfo({ ...this.#info, recording: r.recording !== false, recording_since: since });
      const t = since ? Date.parse(since) : NaN;
      this.#recordingSince = Number.isFinite(t) ? t : this.#now();
      return true;
    } catch (err) {
      this.#recordError = asApiError(err);
      this.#toasts.error('Starting the recording failed', err);
      return false;
    } finally {
      this.#busy = '';
    }
  }

  /** stopRecording stops and keeps the saved path and YAML (recordResult). */
  async stopRecording(path?: string): Promise<RecordResult | null> {
    this.#recordError = null;
    this.#busy = 'recording';
    try {
      const r = normalizeRecordResult(await this.#client.runOperation('record_stop', path ? { path } : {}));
      this.#recordResult = r;
      if (this.#info) this.#setInfo({ ...this.#info, recording: false });
      return r;
    } catch (err) {
      this.#recordError = asApiError(err);
      this.#toasts.error('Stopping the recording failed', err);
      return null;
    } finally {
      this.#busy = '';
    }
  }

  dismissRecordResult(): void {
    this.#recordResult = null;
  }

  // ---- history ----

  /** loadHistory lists past operation runs (history_list), newest first. */
  async loadHistory(limit = 100): Promise<void> {
    if (!this.#available) return;
    this.#historyLoading = true;
    try {
      this.#history = normalizeHistory(await this.#client.runOperation('history_list', { limit }));
      this.#historyError = null;
    } catch (err) {
      const e = asApiError(err);
      this.#historyError = UNAVAILABLE.has(e.code) ? null : e;
    } finally {
      this.#historyLoading = false;
    }
  }
}
