import { getContext, setContext } from 'svelte';
import type { Api } from '../api';
import { CatalogStore } from './catalog.svelte';
import { ClusterStore } from './cluster.svelte';
import { Operations } from './operations.svelte';
import { PaletteStore } from './palette.svelte';
import { ProcessesStore } from './processes.svelte';
import { SimulatorStore } from './simulator.svelte';
import { PinsStore } from './pins.svelte';
import { SessionStore } from './session.svelte';
import { HealthStore } from './health.svelte';
import { Toasts } from './toasts.svelte';
import { OpForm } from './opform.svelte';
import { OpResource } from './resource.svelte';
import type { EventStatus } from '../api/events';
import { MENU_EVENT, parseMenuAction, type MenuAction } from '../logic/menu';

/** The views of the sidebar. */
export const VIEWS = [
  { id: 'topology', label: 'Topology' },
  { id: 'health', label: 'Health' },
  { id: 'processes', label: 'Processes' },
  { id: 'registry', label: 'Registry' },
  { id: 'supervisors', label: 'Supervisors' },
  { id: 'sandboxes', label: 'Sandboxes' },
  { id: 'traces', label: 'Traces' },
  { id: 'simulator', label: 'Simulator' },
] as const;

/** A view id. */
export type ViewId = (typeof VIEWS)[number]['id'];

/** parseView reads a view from a location hash ("#/processes"), defaulting to topology. */
export function parseView(hash: string): ViewId {
  const id = hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  return (VIEWS.find((v) => v.id === id)?.id ?? 'topology') as ViewId;
}

/**
 * AppState wires the stores over one Api and holds what the shell shows:
 * the current view, the selected node (the topology drawer) and the
 * event stream's status.
 */
export class AppState {
  readonly api: Api;
  readonly toasts: Toasts;
  readonly catalog: CatalogStore;
  readonly ops: Operations;
  readonly cluster: ClusterStore;
  readonly processes: ProcessesStore;
  readonly simulator: SimulatorStore;
  readonly palette: PaletteStore;
  readonly pins: PinsStore;
  readonly session: SessionStore;
  readonly health: HealthStore;

  #view = $state<ViewId>('topology');
  #selectedNode = $state<string | null>(null);
  #eventStatus = $state<EventStatus>('idle');

  constructor(api: Api) {
    this.api = api;
    this.toasts = new Toasts();
    this.catalog = new CatalogStore(api.client);
    this.ops = new Operations(api.client, this.catalog, this.toasts);
    // The topology asks every node for its process count; poll it fast
    // only where it is on screen (events still refresh it everywhere).
    let tick = 0;
    this.cluster = new ClusterStore(api.client, api.events, {
      shouldPoll: () => {
        if (typeof document !== 'undefined' && document.hidden) return false;
        tick++;
        return this.#view === 'topology' || this.#view === 'simulator' || tick % 5 === 0;
      },
    });
    this.processes = new ProcessesStore(api.client, api.events);
    this.simulator = new SimulatorStore(this.ops, this.cluster);
    this.health = new HealthStore(api.client, api.events, this.catalog);
    this.palette = new PaletteStore(api.paletteClient ?? api.client, this.catalog, () => this.nodeNames(), (op, ok) => {
      if (ok) this.afterRun(op.category);
    });
    // The project's session: restored on launch, saved on every change (F2).
    this.pins = new PinsStore(api.client, api.events, { mode: () => this.session?.mode ?? '' });
    this.session = new SessionStore(api.client, api.events, this.toasts, this.processes, this.pins, {
      views: VIEWS.map((v) => v.id),
      view: () => this.#view,
      setView: (v) => {
        const id = VIEWS.find((x) => x.id === v)?.id;
        if (!id) return;
        if (typeof window !== 'undefined' && !window.location.hash.startsWith(`#/${id}`)) window.location.hash = `#/${id}`;
        this.setView(id);
      },
      selection: () => this.#selectedNode ?? this.processes.selected ?? '',
      select: (sel) => {
        if (sel.includes('/')) this.processes.select(sel);
        else this.selectNode(sel || null);
      },
      backendChanged: () => {
        this.catalog.load().catch((err) => this.toasts.error('Reloading the operation catalog failed', err));
        void this.cluster.refresh();
        void this.processes.reload();
      },
      explicitView: () => typeof window !== 'undefined' && /^#\/[a-z]/.test(window.location.hash),
      openTrace: (id) => {
        if (typeof window !== 'undefined') window.location.hash = `#/traces/${encodeURIComponent(id)}`;
      },
      currentTrace: () => {
        if (typeof window === 'undefined') return null;
        const m = /^#\/traces(?:\/(.*))?$/.exec(window.location.hash);
        if (!m) return null;
        try {
          return decodeURIComponent(m[1] ?? '');
        } catch {
          return m[1] ?? '';
        }
      },
      onLocationChange: (fn) => {
        if (typeof window === 'undefined') return () => {};
        window.addEventListener('hashchange', fn);
        return () => window.removeEventListener('hashchange', fn);
      },
    });
  }

  /** Every node name the cluster knows (for node fields and validation). */
  nodeNames(): string[] {
    return this.cluster.nodes.map((n) => n.name);
  }

  /** newForm makes an inline operation form for a view. */
  newForm(): OpForm {
    return new OpForm(this.api.client, () => this.nodeNames(), (op, ok) => {
      if (ok) this.afterRun(op.category);
    });
  }

  /** resource makes a read-operation resource for a view. */
  resource<T>(name: string, params: () => Record<string, unknown> = () => ({})): OpResource<T> {
    return new OpResource<T>(this.api.client, this.api.events, name, params);
  }

  /** afterRun refreshes what an operation of a category may have changed. */
  afterRun(category: string): void {
    if (category === 'simulator' || category === 'cluster') void this.cluster.refresh();
    if (category === 'processes' || category === 'simulator' || category === 'sandboxes' || category === 'supervisors') {
      void this.processes.refresh();
    }
  }

  get view(): ViewId {
    return this.#view;
  }
  get selectedNode(): string | null {
    return this.#selectedNode;
  }
  get eventStatus(): EventStatus {
    return this.#eventStatus;
  }
  /** Whether the backend is the embedded simulator (the SIMULATED badge). */
  get simulated(): boolean {
    const s = this.session.simulated;
    if (s !== null) return s;
    return this.cluster.simulated || this.catalog.simulated;
  }

  setView(v: ViewId): void {
    if (this.#view === v) return;
    this.#view = v;
    this.session.noteChange();
  }

  selectNode(name: string | null): void {
    if (this.#selectedNode === name) return;
    this.#selectedNode = name;
    this.session.noteChange();
  }

  /**
   * onMenuAction calls fn with each action of the desktop window's native
   * menu (nothing happens in a browser). It returns the unsubscribe.
   */
  onMenuAction(fn: (a: MenuAction) => void): () => void {
    if (!this.api.desktop) return () => {};
    return this.api.events.subscribe(MENU_EVENT, (ev) => {
      const a = parseMenuAction(ev.data);
      if (a) fn(a);
    });
  }

  /**
   * start loads the catalog and the cluster and follows events. It returns
   * the stop function.
   */
  start(): () => void {
    const offs: (() => void)[] = [];
    offs.push(this.api.events.onStatus((s) => (this.#eventStatus = s)));
    offs.push(
      this.api.events.subscribe('operations', () => {
        this.catalog.load().catch((err) => this.toasts.error('Reloading the operation catalog failed', err));
      }),
    );
    const catalogReady = this.catalog.load().catch((err) => this.toasts.error('Loading the operation catalog failed', err));
    offs.push(this.cluster.start());
    offs.push(this.processes.start());
    offs.push(this.health.start());
    offs.push(this.pins.start());
    offs.push(this.session.start(catalogReady));
    return () => {
      for (const off of offs) off();
    };
  }
}

const KEY = Symbol('clusterlab.app');

/** provideApp makes the AppState available to the component tree. */
export function provideApp(app: AppState): AppState {
  return setContext(KEY, app);
}

/** useApp returns the AppState from a component. */
export function useApp(): AppState {
  const app = getContext<AppState | undefined>(KEY);
  if (!app) throw new Error('clusterlab: useApp outside the App component');
  return app;
}
