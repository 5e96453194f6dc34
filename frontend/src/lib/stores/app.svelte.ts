import { getContext, setContext } from 'svelte';
import type { Api } from '../api';
import { CatalogStore } from './catalog.svelte';
import { ClusterStore } from './cluster.svelte';
import { Operations } from './operations.svelte';
import { PaletteStore } from './palette.svelte';
import { ProcessesStore } from './processes.svelte';
import { SimulatorStore } from './simulator.svelte';
import { Toasts } from './toasts.svelte';
import { OpForm } from './opform.svelte';
import { OpResource } from './resource.svelte';
import type { EventStatus } from '../api/events';
import { MENU_EVENT, parseMenuAction, type MenuAction } from '../logic/menu';

/** The views of the sidebar. */
export const VIEWS = [
  { id: 'topology', label: 'Topology' },
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
    this.palette = new PaletteStore(api.client, this.catalog, () => this.nodeNames(), (op, ok) => {
      if (ok) this.afterRun(op.category);
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
    return this.cluster.simulated || this.catalog.simulated;
  }

  setView(v: ViewId): void {
    this.#view = v;
  }

  selectNode(name: string | null): void {
    this.#selectedNode = name;
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
    this.catalog.load().catch((err) => this.toasts.error('Loading the operation catalog failed', err));
    offs.push(this.cluster.start());
    offs.push(this.processes.start());
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
