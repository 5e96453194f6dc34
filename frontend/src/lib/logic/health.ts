// Pure logic of the health UI: the alert lifecycle merged from events,
// badge counts, node status with alerts, the partition in plain words and
// the operations a remediation names.

import type { Alert, AlertState, NodeHealth, NodeStatus, PartitionState, Severity } from './healthTypes';

const STATE_RANK: Record<AlertState, number> = { raised: 0, acknowledged: 1, resolved: 2 };
const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

/** How many alerts the UI keeps (active ones are never dropped). */
export const MAX_ALERTS = 500;

/** isActive tells whether an alert is not resolved. */
export function isActive(a: Alert): boolean {
  return a.state !== 'resolved';
}

/**
 * mergeAlert folds one alert (from an event, an ack's answer or a list)
 * into what the UI knows. Events may arrive out of order or twice: an
 * alert never moves back in its lifecycle (raised → acknowledged →
 * resolved), and the timestamps of both copies are kept. The result is a
 * new map.
 */
export function mergeAlert(known: ReadonlyMap<string, Alert>, a: Alert): Map<string, Alert> {
  const out = new Map(known);
  const cur = known.get(a.id);
  if (!cur) {
    out.set(a.id, a);
  } else if (STATE_RANK[a.state] >= STATE_RANK[cur.state]) {
    out.set(a.id, { ...a, acked_at: a.acked_at ?? cur.acked_at, resolved_at: a.resolved_at ?? cur.resolved_at });
  } else {
    out.set(a.id, { ...cur, acked_at: cur.acked_at ?? a.acked_at });
  }
  return out;
}

/** mergeAlerts folds a list of alerts into the known ones, then bounds the map. */
export function mergeAlerts(known: ReadonlyMap<string, Alert>, list: readonly Alert[], max = MAX_ALERTS): Map<string, Alert> {
  let out = new Map(known);
  for (const a of list) out = mergeAlert(out, a);
  return boundAlerts(out, max);
}

/** boundAlerts drops the oldest resolved alerts beyond max. */
export function boundAlerts(known: Map<string, Alert>, max = MAX_ALERTS): Map<string, Alert> {
  if (known.size <= max) return known;
  const resolved = [...known.values()].filter((a) => !isActive(a)).sort((x, y) => endTime(x) - endTime(y));
  const out = new Map(known);
  for (const a of resolved) {
    if (out.size <= max) break;
    out.delete(a.id);
  }
  return out;
}

function ms(iso: string | undefined): number {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(t) ? t : 0;
}
function endTime(a: Alert): number {
  return ms(a.resolved_at) || ms(a.raised_at);
}

/**
 * reconcileActive applies a full list of the active alerts (a report's):
 * every known active alert missing from it is resolved by now. `at` is
 * the report's time: an alert raised after it (its event overtook the
 * report) is not expected in the list and stays as it is.
 */
export function reconcileActive(known: ReadonlyMap<string, Alert>, active: readonly Alert[], at: string): Map<string, Alert> {
  let out = new Map(known);
  const ids = new Set(active.map((a) => a.id));
  const atMs = ms(at);
  for (const a of known.values()) {
    if (!isActive(a) || ids.has(a.id)) continue;
    if (!atMs || ms(a.raised_at) > atMs) continue;
    out.set(a.id, { ...a, state: 'resolved', resolved_at: a.resolved_at ?? at });
  }
  for (const a of active) out = mergeAlert(out, a);
  return out;
}

function values(known: ReadonlyMap<string, Alert> | readonly Alert[]): Alert[] {
  return Array.isArray(known) ? [...(known as readonly Alert[])] : [...(known as ReadonlyMap<string, Alert>).values()];
}

/** activeAlerts lists the unresolved alerts: unacknowledged first, most severe, newest. */
export function activeAlerts(known: ReadonlyMap<string, Alert> | readonly Alert[]): Alert[] {
  const list = values(known).filter(isActive);
  return list.sort(
    (x, y) =>
      STATE_RANK[x.state] - STATE_RANK[y.state] ||
      SEVERITY_RANK[y.severity] - SEVERITY_RANK[x.severity] ||
      ms(y.raised_at) - ms(x.raised_at) ||
      (x.id < y.id ? -1 : 1),
  );
}

/** alertHistory lists the resolved alerts, most recently resolved first. */
export function alertHistory(known: ReadonlyMap<string, Alert> | readonly Alert[]): Alert[] {
  const list = values(known).filter((a) => !isActive(a));
  return list.sort((x, y) => endTime(y) - endTime(x) || (x.id < y.id ? -1 : 1));
}

/** Counts of the active alerts for the badge. */
export interface BadgeCounts {
  critical: number;
  warning: number;
  info: number;
  /** Every active alert. */
  total: number;
  /** Active alerts nobody acknowledged yet. */
  unacked: number;
  /** The most severe active, unacknowledged alert's severity ("" when none). */
  worst: Severity | '';
}

/** badgeCounts counts the active alerts by severity. */
export function badgeCounts(alerts: Iterable<Alert>): BadgeCounts {
  const c: BadgeCounts = { critical: 0, warning: 0, info: 0, total: 0, unacked: 0, worst: '' };
  for (const a of alerts) {
    if (!isActive(a)) continue;
    c[a.severity]++;
    c.total++;
    if (a.state === 'raised') {
      c.unacked++;
      if (!c.worst || SEVERITY_RANK[a.severity] > SEVERITY_RANK[c.worst]) c.worst = a.severity;
    }
  }
  return c;
}

/** badgeLabel is the badge's text, e.g. "1 critical · 2 warning" or "no alerts". */
export function badgeLabel(c: BadgeCounts): string {
  if (!c.total) return 'no alerts';
  const parts: string[] = [];
  for (const s of ['critical', 'warning', 'info'] as const) if (c[s]) parts.push(`${c[s]} ${s}`);
  return parts.join(' · ');
}

const STATUS_RANK: Record<NodeStatus, number> = { ok: 0, unknown: 0, warning: 1, unreachable: 2, critical: 3 };

/**
 * nodeAlertSeverity maps each node to the worst severity of its active
 * alerts (acknowledged ones included: the node is still unhealthy).
 */
export function nodeAlertSeverity(alerts: Iterable<Alert>): Map<string, Severity> {
  const out = new Map<string, Severity>();
  for (const a of alerts) {
    if (!isActive(a) || !a.node) continue;
    const cur = out.get(a.node);
    if (!cur || SEVERITY_RANK[a.severity] > SEVERITY_RANK[cur]) out.set(a.node, a.severity);
  }
  return out;
}

/** nodeStatusWithAlerts raises a node's status to its worst alert (info alerts do not count). */
export function nodeStatusWithAlerts(status: NodeStatus, severity: Severity | undefined): NodeStatus {
  const fromAlert: NodeStatus = severity === 'critical' ? 'critical' : severity === 'warning' ? 'warning' : 'ok';
  return STATUS_RANK[fromAlert] > STATUS_RANK[status] ? fromAlert : status;
}

/**
 * unhealthyNodes maps each unhealthy node to its ring: the status of the
 * health report raised by the node's alerts; healthy nodes are left out.
 */
export function unhealthyNodes(nodes: readonly NodeHealth[], alerts: Iterable<Alert>): Map<string, NodeStatus> {
  const sev = nodeAlertSeverity(alerts);
  const out = new Map<string, NodeStatus>();
  const seen = new Set<string>();
  for (const n of nodes) {
    seen.add(n.name);
    const s = nodeStatusWithAlerts(n.status, sev.get(n.name));
    if (s !== 'ok' && s !== 'unknown') out.set(n.name, s);
  }
  for (const [name, s] of sev) {
    if (seen.has(name)) continue;
    const st = nodeStatusWithAlerts('ok', s);
    if (st !== 'ok') out.set(name, st);
  }
  return out;
}

/** Colours of the statuses (rings in the topology, cells in the Health view). */
export const STATUS_COLOURS: Record<NodeStatus, string> = {
  ok: '#2fbf71',
  warning: '#f0b429',
  critical: '#e5484d',
  unreachable: '#c56cf0',
  unknown: '#8b8d98',
};

function set(nodes: readonly string[]): string {
  return `{${nodes.join(', ')}}`;
}

/** The partition in plain words: a headline, details, and whether anything is wrong. */
export interface PartitionWords {
  ok: boolean;
  headline: string;
  details: string[];
}

/**
 * partitionWords says in plain words whether the cluster is split, into
 * which groups, and which links are cut one way or broken.
 */
export function partitionWords(p: PartitionState | null | undefined, formatTime: (iso: string) => string = (s) => s): PartitionWords {
  if (!p) return { ok: true, headline: 'No partition data yet.', details: [] };
  const details: string[] = [];
  let headline: string;
  const since = p.since ? ` since ${formatTime(p.since)}` : '';
  if (p.split && p.groups.length > 1) {
    headline = `The cluster is split into ${p.groups.length} groups${since}.`;
    p.groups.forEach((g, i) => {
      const who = g.observed ? 'answers the observer' : "lost by the observer's side (its own view cannot be asked)";
      details.push(`Group ${i + 1}: ${set(g.nodes)} — ${who}.`);
    });
    if (p.confirmed === false) details.push('Not confirmed: only one side answers; the lost nodes may also have failed together.');
  } else {
    headline = 'The cluster is whole: every node reaches the others.';
  }
  for (const c of p.asymmetric) {
    details.push(`One-way cut ${c.from} → ${c.to}: ${c.from} still sees ${c.to} alive, but ${c.to} hears nothing from ${c.from}.`);
  }
  for (const c of p.brokenLinks) {
    details.push(`Direct link ${c.from} ↔ ${c.to} is down; gossip routes around it, so the cluster holds together.`);
  }
  const ok = !(p.split && p.groups.length > 1) && p.asymmetric.length === 0 && p.brokenLinks.length === 0;
  if (ok && details.length === 0) return { ok, headline, details };
  if (!p.split && (p.asymmetric.length || p.brokenLinks.length)) {
    const n = p.asymmetric.length + p.brokenLinks.length;
    headline = `The cluster holds together, but ${n} link${n > 1 ? 's are' : ' is'} cut${since}.`;
  }
  return { ok, headline, details };
}

/** An operation a remediation names, with the params it gives. */
export interface RemedyOp {
  op: string;
  params: Record<string, string>;
  /** The command asks for confirmation (--yes): a destructive operation. */
  confirm: boolean;
  /** The command as written. */
  command: string;
}

/** A piece of a remediation: text, or a command that runs an operation. */
export type RemedyPart = { text: string; code?: boolean; op?: undefined } | { text: string; code: true; op: RemedyOp };

const COMMAND = /`([^`]*)`/g;

/** parseCommand reads "clusterlab op run NAME k=v ... [--yes]" (or "op run NAME ..."); null otherwise. */
export function parseCommand(cmd: string): RemedyOp | null {
  const words = cmd.trim().split(/\s+/);
  let i = 0;
  if (words[i] === 'clusterlab') i++;
  if (words[i] !== 'op') return null;
  i++;
  if (words[i] === 'run') i++;
  const op = words[i++];
  if (!op || !/^[a-z][a-z0-9_]*$/.test(op)) return null;
  const params: Record<string, string> = {};
  let confirm = false;
  for (; i < words.length; i++) {
    const w = words[i];
    if (w === '--yes' || w === '-y') {
      confirm = true;
      continue;
    }
    const eq = w.indexOf('=');
    if (eq > 0) params[w.slice(0, eq)] = w.slice(eq + 1);
  }
  return { op, params, confirm, command: cmd.trim() };
}

/**
 * parseRemediation splits a remediation into text and the commands it
 * names in backticks, so each command can become a button.
 */
export function parseRemediation(text: string): RemedyPart[] {
  const out: RemedyPart[] = [];
  let last = 0;
  for (const m of text.matchAll(COMMAND)) {
    const idx = m.index ?? 0;
    if (idx > last) out.push({ text: text.slice(last, idx) });
    const op = parseCommand(m[1]);
    out.push(op ? { text: m[1], code: true, op } : { text: m[1], code: true });
    last = idx + m[0].length;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out;
}

/** remedyOps lists the operations a remediation names, in order, without duplicates. */
export function remedyOps(text: string): RemedyOp[] {
  const seen = new Set<string>();
  const out: RemedyOp[] = [];
  for (const p of parseRemediation(text)) {
    if (!p.op) continue;
    const key = `${p.op.op}?${JSON.stringify(p.op.params)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(p.op);
  }
  return out;
}

/** evidenceLine prints an alert's evidence: the last values against the threshold (and baseline). */
export function evidenceLine(a: Alert, digits = 1): string {
  const vals = a.evidence.values.slice(-5).map((v) => round(v.value, digits));
  const parts: string[] = [];
  if (vals.length) parts.push(`${a.metric || 'value'} ${vals.join(', ')}`);
  if (a.evidence.baseline) {
    parts.push(`baseline ${round(a.evidence.baseline, digits)} (threshold ×${round(a.evidence.threshold ?? 0, digits)})`);
  } else if (a.evidence.threshold !== undefined) {
    parts.push(`threshold ${round(a.evidence.threshold, digits)}`);
  }
  if (a.evidence.detail) parts.push(a.evidence.detail);
  return parts.join(' · ');
}

function round(v: number, digits: number): string {
  const f = 10 ** digits;
  return String(Math.round(v * f) / f);
}

/** formatPercent prints a percentage with a sensible precision ("0.42%", "12%"). */
export function formatPercent(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  if (v === 0) return '0%';
  if (Math.abs(v) < 1) return `${v.toFixed(2)}%`;
  if (Math.abs(v) < 10) return `${v.toFixed(1)}%`;
  return `${Math.round(v)}%`;
}

/** formatInterval prints a duration in ms ("1 s", "250 ms", "2.5 s"). */
export function formatInterval(msv: number | undefined): string {
  if (msv === undefined || !Number.isFinite(msv)) return '–';
  if (msv < 1000) return `${Math.round(msv)} ms`;
  const s = msv / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}

/** distributionLines says where work runs in a few lines (health_status' distribution). */
export function distributionLines(d: Record<string, unknown> | undefined): string[] {
  if (!d) return [];
  const out: string[] = [];
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const strs = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const pi = num(d.process_imbalance);
  const si = num(d.supervisor_imbalance);
  const imb: string[] = [];
  if (pi) imb.push(`processes ×${pi.toFixed(1)} of the mean on the busiest node`);
  if (si) imb.push(`supervised children ×${si.toFixed(1)}`);
  if (imb.length) out.push(`Imbalance: ${imb.join('; ')}.`);
  const ch = d.children && typeof d.children === 'object' ? (d.children as Record<string, unknown>) : {};
  const missing = strs(ch.missing);
  const dup = strs(ch.duplicated);
  if (missing.length) out.push(`Children running nowhere: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}.`);
  if (dup.length) out.push(`Children running twice: ${dup.slice(0, 5).join(', ')}${dup.length > 5 ? ` and ${dup.length - 5} more` : ''}.`);
  const conflicts = Array.isArray(d.registry_conflicts) ? d.registry_conflicts.length : 0;
  if (conflicts) out.push(`${conflicts} registry name conflict${conflicts > 1 ? 's' : ''} settled in the last minutes.`);
  if (typeof d.error === 'string' && d.error) out.push(`Distribution not collected: ${d.error}`);
  return out;
}
