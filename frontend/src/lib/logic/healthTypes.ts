// Types of the health operations and events (health_status, alerts_list,
// alert_ack, membership_timeline, node_resources; hub events `health` and
// `alerts`) and defensive readers for them. The readers accept the shapes
// of contracts.md and of health.Report's JSON (cluster/health), so the UI
// renders whichever the backend sends and never trusts a field blindly.

import type { Resources } from '../api/types';
import { isObj, num, str, type Obj } from '../api/read';

/** Alert severities, least to most urgent (health.Severity). */
export type Severity = 'info' | 'warning' | 'critical';

/** The lifecycle states of an alert (health.AlertState). */
export type AlertState = 'raised' | 'acknowledged' | 'resolved';

/** One value an alert was raised on (health.Sample). */
export interface EvidenceValue {
  time: string;
  value: number;
}

/** What an alert was raised on (health.Evidence). */
export interface Evidence {
  values: EvidenceValue[];
  threshold?: number;
  baseline?: number;
  detail?: string;
}

/** One alert (health.Alert). */
export interface Alert {
  id: string;
  rule: string;
  metric: string;
  severity: Severity;
  node?: string;
  process?: string;
  summary: string;
  evidence: Evidence;
  remediation: string;
  state: AlertState;
  raised_at: string;
  acked_at?: string;
  resolved_at?: string;
  resolution?: string;
}

/** A node's health status as the Health view and the topology show it. */
export type NodeStatus = 'ok' | 'warning' | 'critical' | 'unreachable' | 'unknown';

/** One node in health_status. */
export interface NodeHealth {
  name: string;
  role?: string;
  /** Membership state as the observer sees it. */
  state: string;
  /** The backend's status, or one derived from state and answers. */
  status: NodeStatus;
  healthScore?: number;
  rttMs?: number;
  resources?: Resources;
  resourcesError?: string;
  processes?: number;
  /** False when the node's sample did not arrive this round. */
  answered?: boolean;
  error?: string;
  failures?: number;
  /** Active alerts about this node, when the backend counts them. */
  alerts?: number;
  supervised?: number;
}

/** One side of a split. */
export interface PartitionGroup {
  nodes: string[];
  /** False for the side the observer lost (its own view cannot be asked). */
  observed: boolean;
}

/** A directed cut: `from` sees `to` alive, `to` hears nothing from `from`. */
export interface Cut {
  from: string;
  to: string;
}

/** Whether the cluster is split and where views disagree. */
export interface PartitionState {
  split: boolean;
  confirmed?: boolean;
  groups: PartitionGroup[];
  asymmetric: Cut[];
  brokenLinks: Cut[];
  lost: string[];
  since?: string;
  /** The backend's one-line summary. */
  summary?: string;
}

/** The monitor's own cost and pacing (R9.4/R9.5). */
export interface MonitorState {
  intervalMs?: number;
  baseIntervalMs?: number;
  /** The monitor's CPU in percent of one core. */
  cpuPercentOfCore?: number;
  /** The budget in percent of one core. */
  budgetPercent?: number;
  backedOff: boolean;
  paused: string[];
  ticks?: number;
  /** The observer host's CPU percent, when known. */
  hostCpu?: number;
  /** CPU of the last collection (ms). */
  tickCpuMs?: number;
}

/** One of the app's supervised services (health.ServiceStatus). */
export interface ServiceStatus {
  name: string;
  restarts: number;
  lastError?: string;
  lastRestart?: string;
  state?: string;
}

/** The cluster's health now (health_status / the `health` event). */
export interface HealthReport {
  time?: string;
  observer?: string;
  nodes: NodeHealth[];
  partition: PartitionState;
  monitor: MonitorState;
  /** The active alerts when the report carries them. */
  alerts?: Alert[];
  /** The number of active alerts, when the report says. */
  alertsActive?: number;
  services: ServiceStatus[];
  distribution?: Record<string, unknown>;
  missing?: string[];
  storeError?: string;
}

/** The kinds of membership timeline entries. */
export type TimelineKind = 'join' | 'rejoin' | 'suspect' | 'recovered' | 'dead' | 'left' | 'update' | 'events_lost' | string;

/** One membership change as one node saw it (health.TimelineEntry). */
export interface TimelineEntry {
  /** ms since epoch. */
  t: number;
  time: string;
  observer: string;
  subject: string;
  kind: TimelineKind;
  incarnation?: number;
  state?: string;
  seq?: number;
}


function strList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}
/** A Go zero time ("0001-01-01T00:00:00Z") reads as absent. */
function time(v: unknown): string | undefined {
  const s = str(v);
  if (!s || s.startsWith('0001-01-01')) return undefined;
  return s;
}
function list(v: unknown, ...keys: string[]): unknown[] {
  if (Array.isArray(v)) return v;
  if (isObj(v)) for (const k of keys) if (Array.isArray(v[k])) return v[k] as unknown[];
  return [];
}

const SEVERITIES: readonly string[] = ['info', 'warning', 'critical'];
const STATES: readonly string[] = ['raised', 'acknowledged', 'resolved'];
const STATUSES: readonly string[] = ['ok', 'warning', 'critical', 'unreachable'];

/** normalizeAlert reads one alert; null when it has no id. */
export function normalizeAlert(raw: unknown): Alert | null {
  if (!isObj(raw)) return null;
  const id = str(raw.id);
  if (!id) return null;
  const ev = isObj(raw.evidence) ? raw.evidence : {};
  const values: EvidenceValue[] = [];
  for (const v of list(ev.values)) {
    if (isObj(v) && num(v.value) !== undefined) values.push({ time: str(v.time) ?? '', value: v.value as number });
  }
  const sev = str(raw.severity) ?? 'warning';
  const state = str(raw.state) ?? 'raised';
  return {
    id,
    rule: str(raw.rule) ?? '',
    metric: str(raw.metric) ?? '',
    severity: (SEVERITIES.includes(sev) ? sev : 'warning') as Severity,
    node: str(raw.node) || undefined,
    process: str(raw.process) || undefined,
    summary: str(raw.summary) ?? id,
    evidence: { values, threshold: num(ev.threshold), baseline: num(ev.baseline), detail: str(ev.detail) || undefined },
    remediation: str(raw.remediation) ?? '',
    state: (STATES.includes(state) ? state : 'raised') as AlertState,
    raised_at: time(raw.raised_at) ?? '',
    acked_at: time(raw.acked_at),
    resolved_at: time(raw.resolved_at),
    resolution: str(raw.resolution) || undefined,
  };
}

/** normalizeAlerts reads a list of alerts ({alerts: [...]} or [...]). */
export function normalizeAlerts(raw: unknown): Alert[] {
  return list(raw, 'alerts').map(normalizeAlert).filter((a): a is Alert => a !== null);
}

/**
 * alertFromEvent reads the alert of an `alerts` event: {alert: Alert},
 * the monitor's {type, alert} or the alert itself.
 */
export function alertFromEvent(data: unknown): Alert | null {
  if (isObj(data) && isObj(data.alert)) return normalizeAlert(data.alert);
  return normalizeAlert(data);
}

function resources(v: unknown): Resources | undefined {
  if (!isObj(v)) return undefined;
  const t = str(v.time);
  const out: Resources = { time: t ?? '' };
  for (const k of ['cpu_percent', 'mem_used_percent', 'load1', 'proc_cpu_percent', 'proc_rss', 'goroutines'] as const) {
    const n = num(v[k]);
    if (n !== undefined) out[k] = n;
  }
  return out;
}

/** normalizeNodeHealth reads one node of health_status. */
export function normalizeNodeHealth(raw: unknown): NodeHealth | null {
  if (!isObj(raw)) return null;
  const name = str(raw.node) ?? str(raw.name);
  if (!name) return null;
  const state = str(raw.state) ?? 'unknown';
  const answered = typeof raw.answered === 'boolean' ? raw.answered : undefined;
  const given = str(raw.status);
  const rttMs = num(raw.rtt_ms) ?? (num(raw.rtt_ns) !== undefined ? (raw.rtt_ns as number) / 1e6 : undefined);
  const n: NodeHealth = {
    name,
    role: str(raw.role),
    state,
    status: 'ok',
    healthScore: num(raw.health_score),
    rttMs,
    resources: resources(raw.resources),
    resourcesError: str(raw.resources_error) || undefined,
    processes: num(raw.processes),
    answered,
    error: str(raw.error) || undefined,
    failures: num(raw.failures),
    alerts: num(raw.alerts),
    supervised: num(raw.supervised),
  };
  n.status = given && STATUSES.includes(given) ? (given as NodeStatus) : deriveStatus(n);
  return n;
}

/**
 * deriveStatus is a node's status when the backend does not say: dead or
 * not answering is unreachable, a high health score or a left member a
 * warning, otherwise ok. (Alerts on the node raise it further: see
 * nodeStatusWithAlerts.)
 */
export function deriveStatus(n: Pick<NodeHealth, 'state' | 'answered' | 'healthScore' | 'role'>): NodeStatus {
  if (n.state === 'dead') return 'critical';
  if (n.state === 'left') return 'unknown';
  if (n.state === 'suspect') return 'warning';
  if (n.answered === false && n.role !== 'observer') return 'unreachable';
  if ((n.healthScore ?? 0) >= 2) return 'warning';
  return 'ok';
}

function cut(v: unknown): Cut | null {
  if (isObj(v) && str(v.from) && str(v.to)) return { from: v.from as string, to: v.to as string };
  if (typeof v === 'string') {
    const m = /^(.+?)\s*(?:→|->)\s*(.+)$/.exec(v);
    if (m) return { from: m[1], to: m[2] };
  }
  return null;
}

/** normalizePartition reads the partition part ([[nodes]] or [{nodes, observed}] groups). */
export function normalizePartition(raw: unknown): PartitionState {
  const p = isObj(raw) ? raw : {};
  const groups: PartitionGroup[] = [];
  for (const g of list(p.groups)) {
    if (Array.isArray(g)) groups.push({ nodes: strList(g), observed: true });
    else if (isObj(g)) groups.push({ nodes: strList(g.nodes), observed: g.observed !== false });
  }
  const cuts = (v: unknown) => list(v).map(cut).filter((c): c is Cut => c !== null);
  const lost = strList(p.lost);
  // [[nodes]] groups carry no "observed": "unobserved" (group indexes) or the lost nodes tell.
  if (Array.isArray(p.unobserved)) {
    for (const i of p.unobserved) if (typeof i === 'number' && groups[i]) groups[i].observed = false;
  } else if (lost.length) {
    for (const g of groups) if (g.nodes.length && g.nodes.every((n) => lost.includes(n))) g.observed = false;
  }
  return {
    split: p.split === true || groups.filter((g) => g.nodes.length).length > 1,
    confirmed: typeof p.confirmed === 'boolean' ? p.confirmed : undefined,
    groups: groups.filter((g) => g.nodes.length),
    asymmetric: cuts(p.asymmetric),
    brokenLinks: cuts(p.broken_links),
    lost,
    since: time(p.since),
    summary: str(p.summary) || undefined,
  };
}

/** normalizeMonitor reads the monitor's pacing from a "monitor" object or the report's own fields. */
export function normalizeMonitor(report: Obj): MonitorState {
  const m = isObj(report.monitor) ? { ...report, ...report.monitor } : report;
  const ms = (msKey: string, nsKey: string) => num(m[msKey]) ?? (num(m[nsKey]) !== undefined ? (m[nsKey] as number) / 1e6 : undefined);
  const intervalMs = ms('interval_ms', 'interval_ns');
  const baseIntervalMs = ms('base_interval_ms', 'base_interval_ns');
  // overhead/budget are fractions of one core in health.Report.
  const cpu = num(m.cpu_percent_of_core) ?? (num(m.overhead) !== undefined ? (m.overhead as number) * 100 : undefined);
  const budget = num(m.budget_percent) ?? (num(m.budget) !== undefined ? (m.budget as number) * 100 : undefined);
  const backedOff =
    typeof m.backed_off === 'boolean'
      ? m.backed_off
      : intervalMs !== undefined && baseIntervalMs !== undefined && intervalMs > baseIntervalMs * 1.01;
  const host = num(m.host_cpu_percent) ?? num(m.host_cpu);
  return {
    intervalMs,
    baseIntervalMs,
    cpuPercentOfCore: cpu,
    budgetPercent: budget,
    backedOff,
    paused: strList(m.paused),
    ticks: num(m.ticks),
    hostCpu: host !== undefined && host >= 0 ? host : undefined,
    tickCpuMs: ms('tick_cpu_ms', 'tick_cpu_ns'),
  };
}

function services(v: unknown): ServiceStatus[] {
  const out: ServiceStatus[] = [];
  for (const s of list(v, 'services')) {
    if (!isObj(s) || !str(s.name)) continue;
    out.push({
      name: s.name as string,
      restarts: num(s.restarts) ?? 0,
      lastError: str(s.last_error) || undefined,
      lastRestart: time(s.last_restart),
      state: str(s.state) || undefined,
    });
  }
  return out;
}

/**
 * normalizeReport reads health_status's result or a `health` event; null
 * when it is not a report (no nodes list).
 */
export function normalizeReport(raw: unknown): HealthReport | null {
  if (!isObj(raw)) return null;
  const r = isObj(raw.report) ? raw.report : raw;
  if (!Array.isArray(r.nodes)) return null;
  const nodes = r.nodes.map(normalizeNodeHealth).filter((n): n is NodeHealth => n !== null);
  nodes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const monitorServices = isObj(r.monitor) ? (r.monitor as Obj).services : undefined;
  const missing = list(r.missing)
    .map((m) => (typeof m === 'string' ? m : isObj(m) ? str(m.node) : undefined))
    .filter((m): m is string => !!m);
  return {
    time: time(r.time),
    observer: str(r.observer),
    nodes,
    partition: normalizePartition(r.partition),
    monitor: normalizeMonitor(r),
    alerts: Array.isArray(r.alerts) ? normalizeAlerts(r.alerts) : undefined,
    alertsActive: num(r.alerts_active),
    services: services(r.services ?? monitorServices),
    distribution: isObj(r.distribution) ? r.distribution : undefined,
    missing,
    storeError: str(r.store_error) || (isObj(r.monitor) ? str((r.monitor as Obj).store_error) : undefined) || undefined,
  };
}

/**
 * normalizeTimelineEntry reads one membership_timeline entry (contract:
 * subject/kind/incarnation; health.TimelineEntry: member/type/rejoin).
 */
export function normalizeTimelineEntry(raw: unknown): TimelineEntry | null {
  if (!isObj(raw)) return null;
  const ts = str(raw.time);
  const t = ts ? Date.parse(ts) : NaN;
  const observer = str(raw.observer);
  if (!ts || !Number.isFinite(t) || !observer) return null;
  let kind = str(raw.kind) ?? str(raw.type) ?? 'update';
  if (kind === 'join' && raw.rejoin === true) kind = 'rejoin';
  return {
    t,
    time: ts,
    observer,
    subject: str(raw.subject) ?? str(raw.member) ?? '',
    kind,
    incarnation: num(raw.incarnation),
    state: str(raw.state) || undefined,
    seq: num(raw.seq),
  };
}

/** normalizeTimeline reads membership_timeline's result, oldest first. */
export function normalizeTimeline(raw: unknown): TimelineEntry[] {
  const out = list(raw, 'entries', 'timeline')
    .map(normalizeTimelineEntry)
    .filter((e): e is TimelineEntry => e !== null);
  out.sort((a, b) => a.t - b.t || (a.observer < b.observer ? -1 : a.observer > b.observer ? 1 : 0) || (a.seq ?? 0) - (b.seq ?? 0));
  return out;
}

/** normalizeSamples reads node_resources' samples ({samples: [...]} or [...]), oldest first. */
export function normalizeSamples(raw: unknown): Resources[] {
  return list(raw, 'samples').map(resources).filter((r): r is Resources => !!r);
}
