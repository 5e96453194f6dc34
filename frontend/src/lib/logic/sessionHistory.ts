// The palette's History section: past operation runs (history_list),
// searched by name, summarised on one line, and turned back into the raw
// values of the operation's form so a run can be edited and repeated.

import type { ParamSpec } from '../api/types';
import { printDefault, type RawValues } from './forms';
import type { OperationRecord } from './session';

/** Parameter values the backend blanked out (secrets); never put back into a form. */
const REDACTED = /^(\*+|\[redacted\]|<redacted>|redacted|\(redacted\)|…)$/i;

/** Parameters that hold secrets: a re-run asks for them again. */
const SECRET_PARAMS = /^(key|secret|token|password|secret_key|gossip_key)$/i;

/** isRedacted tells whether a history value is a blanked-out secret. */
export function isRedacted(name: string, v: unknown): boolean {
  return SECRET_PARAMS.test(name) || (typeof v === 'string' && REDACTED.test(v.trim()));
}

/**
 * historyValues turns a past run's parameters into the form's raw values:
 * every known parameter printed the way a user types it, secrets left out
 * (the user types them again). With the spec, parameters the operation no
 * longer has are dropped.
 */
export function historyValues(rec: Pick<OperationRecord, 'params'>, params?: readonly ParamSpec[]): RawValues {
  const out: RawValues = {};
  const known = params ? new Set(params.map((p) => p.name)) : null;
  for (const [k, v] of Object.entries(rec.params ?? {})) {
    if (known && !known.has(k)) continue;
    if (isRedacted(k, v) || v === null || v === undefined) continue;
    out[k] = printDefault(v);
  }
  return out;
}

/** summarizeParams prints a run's parameters on one short line ("pid=node-1/4 reason=killed"). */
export function summarizeParams(params: Record<string, unknown>, max = 80): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(params ?? {})) {
    const text = isRedacted(k, v) ? '•••' : typeof v === 'string' ? v : JSON.stringify(v);
    parts.push(`${k}=${text}`);
  }
  const s = parts.join(' ');
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/**
 * searchHistory keeps the runs whose operation or parameters contain every
 * word of the query, newest first, one per distinct (operation, params)
 * (the newest), at most `limit`.
 */
export function searchHistory(records: readonly OperationRecord[], query: string, limit = 8): OperationRecord[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const seen = new Set<string>();
  const out: OperationRecord[] = [];
  for (const r of records) {
    if (out.length >= limit) break;
    const hay = `${r.operation} ${summarizeParams(r.params, 400)}`.toLowerCase();
    if (!words.every((w) => hay.includes(w) || hay.replace(/_/g, ' ').includes(w))) continue;
    const key = `${r.operation} ${JSON.stringify(r.params)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(r);
  }
  return out;
}

/** formatElapsed prints a duration in ms as m:ss or h:mm:ss (the recording clock). */
export function formatElapsed(ms: number): string {
  const total = Math.max(0, Math.floor((Number.isFinite(ms) ? ms : 0) / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** timeAgo prints how long ago an RFC 3339 time was ("12 s ago", "3 min ago", a date). */
export function timeAgo(iso: string, now: number): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(t).toISOString().slice(0, 10);
}
