// Defensive readers for API answers: the UI never trusts a shape blindly.
// Each returns a well-formed value (dropping malformed entries) so a view
// can render whatever the backend sends.

import type { BackendInfo, Link, NodeError, NodeInfo, ProcessInfo, ProcessPage, Topology } from './types';
import { isObj, num, str } from './read';


function strList(v: unknown): string[] | undefined {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined;
}
function strMap(v: unknown): Record<string, string> | undefined {
  if (!isObj(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}
function numMap(v: unknown): Record<string, number> | undefined {
  if (!isObj(v)) return undefined;
  const out: Record<string, number> = {};
  for (const [k, x] of Object.entries(v)) if (typeof x === 'number') out[k] = x;
  return out;
}

/** pidString prints a PID sent as "node/id" or {node, id}. */
export function pidString(v: unknown): string {
  if (typeof v === 'string') return v;
  if (isObj(v) && typeof v.node === 'string' && (typeof v.id === 'number' || typeof v.id === 'string')) {
    return `${v.node}/${v.id}`;
  }
  return '';
}

/** normalizeNode reads one node (member + what the backend adds). */
export function normalizeNode(raw: unknown): NodeInfo | null {
  if (!isObj(raw)) return null;
  const m = isObj(raw.member) ? { ...raw.member, ...raw } : raw;
  const name = str(m.name);
  if (!name) return null;
  const sees = strList(m.sees_alive) ?? strList(m.sees) ?? strList(m.alive_view);
  return {
    name,
    addr: str(m.addr),
    role: str(m.role) ?? 'worker',
    state: str(m.state) ?? 'unknown',
    tags: strMap(m.tags),
    version: str(m.version),
    since: str(m.since),
    local: m.local === true,
    rtt_ns: num(m.rtt_ns),
    processes: num(m.processes) ?? num(m.process_count),
    behaviours: numMap(m.behaviours) ?? numMap(m.behaviors),
    sees_alive: sees,
    sim_state: str(m.sim_state) ?? (isObj(m.sim) ? str(m.sim.state) : undefined),
  };
}

function listOf(raw: unknown, ...keys: string[]): unknown[] {
  if (Array.isArray(raw)) return raw;
  if (isObj(raw)) {
    for (const k of keys) if (Array.isArray(raw[k])) return raw[k] as unknown[];
    if (isObj(raw.result)) return listOf(raw.result, ...keys);
  }
  return [];
}

/** normalizeNodes reads a node list: a bare list, or {nodes} / {members}. */
export function normalizeNodes(raw: unknown): NodeInfo[] {
  return listOf(raw, 'nodes', 'members')
    .map(normalizeNode)
    .filter((n): n is NodeInfo => n !== null);
}

/** normalizeNodeErrors reads a "missing" list. */
export function normalizeNodeErrors(raw: unknown): NodeError[] {
  if (!Array.isArray(raw)) return [];
  const out: NodeError[] = [];
  for (const e of raw) {
    if (!isObj(e) || typeof e.node !== 'string') continue;
    out.push({ node: e.node, code: str(e.code) ?? 'internal', state: str(e.state), message: str(e.message) ?? '' });
  }
  return out;
}

/** normalizeLink reads one directed reachability fact. */
export function normalizeLink(raw: unknown): Link | null {
  if (!isObj(raw)) return null;
  const from = str(raw.from) ?? str(raw.a) ?? str(raw.source);
  const to = str(raw.to) ?? str(raw.b) ?? str(raw.target);
  if (!from || !to) return null;
  const seesAlive = typeof raw.sees_alive === 'boolean' ? raw.sees_alive : undefined;
  let reachable = seesAlive ?? true;
  if (typeof raw.reachable === 'boolean') reachable = raw.reachable;
  else if (typeof raw.ok === 'boolean') reachable = raw.ok;
  else if (typeof raw.state === 'string') reachable = raw.state === 'ok' || raw.state === 'reachable' || raw.state === 'alive';
  const latency = num(raw.latency_ms) ?? (num(raw.latency_ns) !== undefined ? num(raw.latency_ns)! / 1e6 : undefined);
  return { from, to, reachable, sees_alive: seesAlive, latency_ms: latency, loss: num(raw.loss) };
}

/** normalizeTopology reads cluster_topology's answer. */
export function normalizeTopology(raw: unknown): Topology {
  const r = isObj(raw) ? raw : {};
  const nodes = normalizeNodes(r.nodes ?? r.members ?? raw);
  const links = (Array.isArray(r.links) ? r.links : Array.isArray(r.edges) ? r.edges : [])
    .map(normalizeLink)
    .filter((l): l is Link => l !== null);
  const simulated =
    typeof r.simulated === 'boolean'
      ? r.simulated
      : typeof r.simulator === 'boolean'
        ? r.simulator
        : str(r.mode) === 'simulator' || isObj(r.simulator);
  const seed = num(r.seed) ?? (isObj(r.simulator) ? num(r.simulator.seed) : undefined);
  return {
    nodes,
    links,
    observer: str(r.observer),
    simulated,
    seed,
    links_complete: typeof r.links_complete === 'boolean' ? r.links_complete : undefined,
    missing: normalizeNodeErrors(r.missing),
  };
}

/** normalizeInfo reads GET /api/v1/info. */
export function normalizeInfo(raw: unknown): BackendInfo {
  const r = isObj(raw) ? raw : {};
  return {
    version: str(r.version) ?? '',
    observer: str(r.observer) ?? '',
    simulated: r.simulated === true,
    seed: num(r.seed),
    operations_version: num(r.operations_version),
    last_event_id: num(r.last_event_id),
  };
}

/** normalizeProcess reads one cluster.ProcessInfo. */
export function normalizeProcess(raw: unknown): ProcessInfo | null {
  if (!isObj(raw)) return null;
  const pid = pidString(raw.pid);
  if (!pid) return null;
  const node = str(raw.node) ?? pid.slice(0, pid.lastIndexOf('/'));
  const pids = (v: unknown) => (Array.isArray(v) ? v.map(pidString).filter(Boolean) : undefined);
  return {
    pid,
    node,
    name: str(raw.name),
    registered: strList(raw.registered),
    behavior: str(raw.behavior) ?? '',
    status: str(raw.status) ?? '',
    mailbox: num(raw.mailbox) ?? 0,
    mailbox_high_water: num(raw.mailbox_high_water),
    messages_in: num(raw.messages_in) ?? 0,
    messages_out: num(raw.messages_out) ?? 0,
    started_at: str(raw.started_at),
    links: pids(raw.links),
    monitors: pids(raw.monitors),
    monitoring: pids(raw.monitoring),
    trap_exits: raw.trap_exits === true,
    labels: strMap(raw.labels),
  };
}

/** normalizeProcessPage reads list_processes's answer. */
export function normalizeProcessPage(raw: unknown): ProcessPage {
  const r = isObj(raw) && isObj(raw.result) ? raw.result : isObj(raw) ? raw : {};
  const procs = (Array.isArray(r.processes) ? r.processes : [])
    .map(normalizeProcess)
    .filter((p): p is ProcessInfo => p !== null);
  return {
    processes: procs,
    total: num(r.total) ?? procs.length,
    next_cursor: str(r.next_cursor) || undefined,
    missing: normalizeNodeErrors(r.missing),
  };
}
