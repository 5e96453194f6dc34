// The UI state a session keeps (session.UIState) mapped to and from what
// the app holds: the current view, the selection, the processes table's
// filters and sort, the pins, panel sizes and open traces.

import type { ProcessSortField } from '../api/types';
import { EMPTY_FILTERS, isSortField, type ProcessFilters, type SortState } from './processQuery';
import { normalizeUIState, type WireUIState } from './session';
import { NO_PINS, pinsFromWire, pinsToWire, type Pins } from './sessionPins';

/** The UI state as the app holds it. */
export interface LocalUI {
  view: string;
  /** The selected object: a node name, a pid ("node/id") or a name; "" for none. */
  selection: string;
  filters: ProcessFilters;
  /** Filters of other views (keys the processes table does not use), kept as they were. */
  otherFilters: Record<string, string>;
  sort: SortState;
  pins: Pins;
  panelSizes: Record<string, number>;
  openTraces: string[];
}

/** The default sort of the processes table. */
export const DEFAULT_SORT: SortState = { field: 'pid', desc: false };

/** A fresh UI state (a project opened for the first time). */
export function defaultUI(): LocalUI {
  return {
    view: 'topology',
    selection: '',
    filters: { ...EMPTY_FILTERS },
    otherFilters: {},
    sort: { ...DEFAULT_SORT },
    pins: NO_PINS,
    panelSizes: {},
    openTraces: [],
  };
}

const FILTER_KEYS = Object.keys(EMPTY_FILTERS) as (keyof ProcessFilters)[];

/**
 * uiFromWire reads a session's UI state. A view the UI does not have falls
 * back to `fallbackView`; an unknown sort field to pid ascending.
 */
export function uiFromWire(raw: WireUIState | unknown, views: readonly string[], fallbackView = 'topology'): LocalUI {
  const w = normalizeUIState(raw);
  const filters: ProcessFilters = { ...EMPTY_FILTERS };
  const otherFilters: Record<string, string> = {};
  for (const [k, v] of Object.entries(w.filters ?? {})) {
    if ((FILTER_KEYS as string[]).includes(k)) filters[k as keyof ProcessFilters] = v;
    else otherFilters[k] = v;
  }
  const sort: SortState = w.sort && isSortField(w.sort) ? { field: w.sort as ProcessSortField, desc: !!w.desc } : { ...DEFAULT_SORT };
  return {
    view: w.view && views.includes(w.view) ? w.view : fallbackView,
    selection: w.selection ?? '',
    filters,
    otherFilters,
    sort,
    pins: pinsFromWire(w.pins),
    panelSizes: { ...(w.panel_sizes ?? {}) },
    openTraces: [...(w.open_traces ?? [])],
  };
}

/** uiToWire writes the app's UI state as session.UIState (empty parts left out). */
export function uiToWire(l: LocalUI): WireUIState {
  const out: WireUIState = { pins: pinsToWire(l.pins) };
  if (l.view) out.view = l.view;
  if (l.selection) out.selection = l.selection;
  const filters: Record<string, string> = { ...l.otherFilters };
  for (const k of FILTER_KEYS) {
    const v = l.filters[k].trim();
    if (v) filters[k] = v;
  }
  if (Object.keys(filters).length) out.filters = filters;
  if (l.sort.field !== DEFAULT_SORT.field || l.sort.desc) {
    out.sort = l.sort.field;
    if (l.sort.desc) out.desc = true;
  }
  const sizes = Object.entries(l.panelSizes).filter(([, v]) => Number.isFinite(v) && v >= 0);
  if (sizes.length) out.panel_sizes = Object.fromEntries(sizes);
  if (l.openTraces.length) out.open_traces = [...l.openTraces];
  return out;
}

/** canonical is a stable JSON text of a value (object keys sorted), for comparing states. */
export function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : x,
  );
}

/** uiKey identifies a wire UI state (equal keys: nothing to save). */
export function uiKey(w: WireUIState): string {
  return canonical(normalizeUIState(w));
}

/** clampPanel bounds a panel size (pixels) to [min, max]. */
export function clampPanel(v: number, min: number, max: number): number {
  if (!Number.isFinite(v)) return min;
  return Math.round(Math.max(min, Math.min(max, v)));
}
