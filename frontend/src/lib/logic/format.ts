const COUNT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** formatCount prints a count with thousands separators (one shared formatter: toLocaleString per cell is slow). */
export function formatCount(n: number | undefined | null): string {
  if (n === undefined || n === null || !Number.isFinite(n)) return '–';
  return COUNT.format(Math.round(n));
}

/** formatBytes prints a byte count in KiB/MiB/GiB. */
export function formatBytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** formatAge prints how long ago an RFC 3339 time was, relative to now (ms). */
export function formatAge(iso: string | undefined, now: number): string {
  if (!iso) return '–';
  const t = Date.parse(iso);
  if (Number.isNaN(t) || t <= 0) return '–';
  const s = Math.max(0, (now - t) / 1000);
  if (s < 60) return `${Math.floor(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${Math.floor(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d`;
}

/** formatRTT prints a round-trip time given in nanoseconds. */
export function formatRTT(ns: number | undefined): string {
  if (!ns) return '–';
  if (ns < 1e6) return `${(ns / 1e3).toFixed(0)}µs`;
  return `${(ns / 1e6).toFixed(1)}ms`;
}

/** A result shaped as a table: columns and rows of printable cells. */
export interface Table {
  columns: string[];
  rows: Record<string, unknown>[];
  /** Where the rows were found ("" for the result itself, else a field name). */
  path: string;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/**
 * asTable finds a table in an operation's result: the result itself when
 * it is a list of objects, or its largest field that is one. Columns are
 * the union of the rows' keys in first-seen order (at most maxColumns).
 */
export function asTable(result: unknown, maxColumns = 12): Table | null {
  let rows: unknown[] | null = null;
  let path = '';
  if (Array.isArray(result)) rows = result;
  else if (isPlainObject(result)) {
    for (const [k, v] of Object.entries(result)) {
      if (Array.isArray(v) && v.length > 0 && v.every(isPlainObject) && (!rows || v.length > rows.length)) {
        rows = v;
        path = k;
      }
    }
  }
  if (!rows || rows.length === 0 || !rows.every(isPlainObject)) return null;
  const columns: string[] = [];
  for (const r of rows as Record<string, unknown>[]) {
    for (const k of Object.keys(r)) {
      if (!columns.includes(k) && columns.length < maxColumns) columns.push(k);
    }
  }
  return { columns, rows: rows as Record<string, unknown>[], path };
}

/** cell prints one table cell: scalars as they are, the rest as short JSON. */
export function cell(v: unknown, max = 80): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v.length > max ? `${v.slice(0, max)}…` : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = JSON.stringify(v);
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/**
 * listField finds a list in an operation result: the result itself when it
 * is a list, else the first of `keys` that holds one; [] otherwise.
 */
export function listField<T = Record<string, unknown>>(result: unknown, ...keys: string[]): T[] {
  if (Array.isArray(result)) return result as T[];
  if (isPlainObject(result)) {
    for (const k of keys) {
      const v = result[k];
      if (Array.isArray(v)) return v as T[];
    }
  }
  return [];
}

/** groupBy groups items by a key, keys sorted. */
export function groupBy<T>(items: readonly T[], key: (t: T) => string): [string, T[]][] {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = m.get(k) ?? [];
    list.push(it);
    m.set(k, list);
  }
  return [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}
