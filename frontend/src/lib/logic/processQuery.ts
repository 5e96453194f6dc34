import type { ProcessQuery, ProcessSortField } from '../api/types';
import { PROCESS_SORT_FIELDS } from '../api/types';

/** The filters of the processes table (all server-side). */
export interface ProcessFilters {
  node: string;
  behavior: string;
  name: string;
  status: string;
  label: string;
}

/** No filter. */
export const EMPTY_FILTERS: ProcessFilters = { node: '', behavior: '', name: '', status: '', label: '' };

/** The statuses a process can have (cluster process status). */
export const PROCESS_STATUSES = ['waiting', 'runnable', 'running', 'exiting'] as const;

/** Sort order of the table. */
export interface SortState {
  field: ProcessSortField;
  desc: boolean;
}

/** isSortField tells whether s is one of the server's sort fields. */
export function isSortField(s: string): s is ProcessSortField {
  return (PROCESS_SORT_FIELDS as readonly string[]).includes(s);
}

/**
 * nextSort is the sort after a click on a column header: the same column
 * flips the direction, another column sorts ascending by it (numbers that
 * people look for the largest of — mailbox, messages — start descending).
 */
export function nextSort(current: SortState, clicked: ProcessSortField): SortState {
  if (current.field === clicked) return { field: clicked, desc: !current.desc };
  const desc = clicked === 'mailbox' || clicked === 'messages_in' || clicked === 'messages_out';
  return { field: clicked, desc };
}

/**
 * buildQuery turns the table's state into list_processes parameters:
 * trimmed filters, empty ones left out, default sort (pid ascending) left
 * out, the limit clamped to 1..10000.
 */
export function buildQuery(filters: ProcessFilters, sort: SortState, limit: number, cursor?: string): ProcessQuery {
  const q: ProcessQuery = {};
  for (const k of ['node', 'behavior', 'name', 'status', 'label'] as const) {
    const v = filters[k].trim();
    if (v) q[k] = v;
  }
  if (sort.field !== 'pid') q.sort = sort.field;
  if (sort.desc) q.desc = true;
  q.limit = Math.max(1, Math.min(10000, Math.floor(limit)));
  if (cursor) q.cursor = cursor;
  return q;
}

/** filterProblems checks filters before they are sent; it returns messages per field. */
export function filterProblems(filters: ProcessFilters): Partial<Record<keyof ProcessFilters, string>> {
  const out: Partial<Record<keyof ProcessFilters, string>> = {};
  const label = filters.label.trim();
  if (label && !/^[^=]+=.*$/.test(label)) out.label = 'a label filter is key=value, e.g. sandbox=demo';
  if (filters.node.includes('/')) out.node = 'a node name has no "/" (that is a pid)';
  return out;
}

/**
 * parseFilterText reads the quick-filter box: "node:node-1 behavior:echo
 * status:waiting label:k=v" set those filters; other words go to the name
 * filter. Unknown keys are kept as text.
 */
export function parseFilterText(text: string): ProcessFilters {
  const f: ProcessFilters = { ...EMPTY_FILTERS };
  const rest: string[] = [];
  for (const word of text.trim().split(/\s+/).filter(Boolean)) {
    const m = /^(node|behavior|behaviour|name|status|label):(.+)$/.exec(word);
    if (!m) {
      rest.push(word);
      continue;
    }
    const key = m[1] === 'behaviour' ? 'behavior' : (m[1] as keyof ProcessFilters);
    f[key] = m[2];
  }
  if (rest.length && !f.name) f.name = rest.join(' ');
  return f;
}

/** filtersEqual compares two filter sets after trimming. */
export function filtersEqual(a: ProcessFilters, b: ProcessFilters): boolean {
  return (Object.keys(EMPTY_FILTERS) as (keyof ProcessFilters)[]).every((k) => a[k].trim() === b[k].trim());
}
