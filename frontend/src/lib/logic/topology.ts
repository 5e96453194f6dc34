import type { Link, NodeInfo } from '../api/types';

/**
 * How a pair of nodes can talk: ok both ways; oneway when only one
 * direction gets through (an asymmetric cut); cut when neither does;
 * degraded when it gets through with loss; converging when the network
 * delivers both ways but the two do not (yet) see each other alive (a
 * partition just healed, or a node just joined).
 */
export type EdgeState = 'ok' | 'oneway' | 'cut' | 'degraded' | 'converging';

/** An undirected edge between two nodes, with what each way can do. */
export interface TopologyEdge {
  /** Stable id "a|b" with a < b. */
  id: string;
  a: string;
  b: string;
  state: EdgeState;
  /** a can reach b. */
  ab: boolean;
  /** b can reach a. */
  ba: boolean;
  /** Worst latency of the two directions, when known (ms). */
  latencyMs?: number;
  /** Worst loss of the two directions, when known (0..1). */
  loss?: number;
}

/** Health of a node for its colour. */
export type Health = 'alive' | 'suspect' | 'dead' | 'left' | 'unknown';

/** health maps a membership state (and the simulator's state) to a colour class. */
export function health(n: Pick<NodeInfo, 'state' | 'sim_state'>): Health {
  if (n.sim_state === 'crashed') return 'dead';
  if (n.sim_state === 'stopped') return 'left';
  switch (n.state) {
    case 'alive':
      return 'alive';
    case 'suspect':
      return 'suspect';
    case 'dead':
      return 'dead';
    case 'left':
      return 'left';
    default:
      return 'unknown';
  }
}

/** The colour of each health, shared by the graph and the legend. */
export const HEALTH_COLOURS: Record<Health, string> = {
  alive: '#2fbf71',
  suspect: '#f0b429',
  dead: '#e5484d',
  left: '#8b8d98',
  unknown: '#6e6e80',
};

function pairId(a: string, b: string): [string, string, string] {
  return a < b ? [a, b, `${a}|${b}`] : [b, a, `${b}|${a}`];
}

/**
 * reachability returns, for each ordered pair, whether `from` can reach
 * `to`. Explicit links win; otherwise a node that reports the members it
 * sees alive reaches those it sees; otherwise (no data) two running nodes
 * are taken to reach each other when both are alive as the observer sees them.
 */
export function reachability(nodes: NodeInfo[], links: Link[]): Map<string, boolean> {
  const out = new Map<string, boolean>();
  const names = new Set(nodes.map((n) => n.name));
  for (const l of links) {
    if (names.has(l.from) && names.has(l.to) && l.from !== l.to) out.set(`${l.from}>${l.to}`, l.reachable);
  }
  for (const a of nodes) {
    for (const b of nodes) {
      if (a.name === b.name) continue;
      const k = `${a.name}>${b.name}`;
      if (out.has(k)) continue;
      if (a.sees_alive) {
        out.set(k, health(a) === 'alive' && a.sees_alive.includes(b.name));
      } else {
        out.set(k, health(a) === 'alive' && health(b) === 'alive');
      }
    }
  }
  return out;
}

/**
 * deriveEdges turns nodes and reachability facts into undirected edges for
 * the graph: ok both ways, oneway when only one direction works (an
 * asymmetric cut), cut when neither does; degraded for a reachable link
 * with loss. Edges to dead or stopped nodes are left out unless
 * `includeDown`, so the graph shows partitions among the living rather than
 * a web of red lines to a crashed node. Observers are included (they see
 * the cluster) only when `includeObservers`.
 */
export function deriveEdges(
  nodes: NodeInfo[],
  links: Link[],
  opts: { includeDown?: boolean; includeObservers?: boolean } = {},
): TopologyEdge[] {
  const shown = nodes.filter(
    (n) =>
      (opts.includeObservers || n.role !== 'observer') &&
      (opts.includeDown || (health(n) !== 'dead' && health(n) !== 'left')),
  );
  const reach = reachability(shown, links);
  const linkInfo = new Map<string, Link>();
  for (const l of links) linkInfo.set(`${l.from}>${l.to}`, l);
  const edges: TopologyEdge[] = [];
  for (let i = 0; i < shown.length; i++) {
    for (let j = i + 1; j < shown.length; j++) {
      const [a, b, id] = pairId(shown[i].name, shown[j].name);
      const ab = reach.get(`${a}>${b}`) ?? false;
      const ba = reach.get(`${b}>${a}`) ?? false;
      const l1 = linkInfo.get(`${a}>${b}`);
      const l2 = linkInfo.get(`${b}>${a}`);
      const lat = maxDefined(l1?.latency_ms, l2?.latency_ms);
      const loss = maxDefined(l1?.loss, l2?.loss);
      let state: EdgeState = ab && ba ? 'ok' : ab || ba ? 'oneway' : 'cut';
      if (state === 'ok' && loss !== undefined && loss > 0) state = 'degraded';
      if (state === 'ok' && (l1?.sees_alive === false || l2?.sees_alive === false)) state = 'converging';
      edges.push({ id, a, b, state, ab, ba, latencyMs: lat, loss });
    }
  }
  edges.sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  return edges;
}

function maxDefined(x?: number, y?: number): number | undefined {
  if (x === undefined) return y;
  if (y === undefined) return x;
  return Math.max(x, y);
}

/**
 * partitionGroups splits the live nodes into groups that can talk both
 * ways (connected components over "ok"/"degraded" edges). One group means
 * no partition; more mean the cluster is split.
 */
export function partitionGroups(nodes: NodeInfo[], edges: TopologyEdge[]): string[][] {
  const live = nodes
    .filter((n) => n.role !== 'observer' && health(n) !== 'dead' && health(n) !== 'left')
    .map((n) => n.name)
    .sort();
  const parent = new Map(live.map((n) => [n, n]));
  const find = (x: string): string => {
    let r = x;
    while (parent.get(r) !== r) r = parent.get(r)!;
    parent.set(x, r);
    return r;
  };
  for (const e of edges) {
    if (e.state !== 'cut' && e.state !== 'oneway' && parent.has(e.a) && parent.has(e.b)) {
      const ra = find(e.a);
      const rb = find(e.b);
      if (ra !== rb) parent.set(ra < rb ? rb : ra, ra < rb ? ra : rb);
    }
  }
  const groups = new Map<string, string[]>();
  for (const n of live) {
    const r = find(n);
    const g = groups.get(r) ?? [];
    g.push(n);
    groups.set(r, g);
  }
  return [...groups.values()].sort((x, y) => (x[0] < y[0] ? -1 : 1));
}

/** A short sentence about the cluster's connectivity for the status line. */
export function connectivitySummary(nodes: NodeInfo[], edges: TopologyEdge[]): string {
  const groups = partitionGroups(nodes, edges);
  const oneway = edges.filter((e) => e.state === 'oneway').length;
  const down = nodes.filter((n) => n.role !== 'observer' && (health(n) === 'dead' || health(n) === 'left')).length;
  const parts: string[] = [];
  if (groups.length === 0) parts.push('no live nodes');
  else if (groups.length > 1) parts.push(`partitioned into ${groups.length} groups: ${groups.map((g) => `{${g.join(', ')}}`).join(' ')}`);
  else parts.push('fully connected');
  if (oneway) parts.push(`${oneway} one-way link${oneway > 1 ? 's' : ''}`);
  if (down) parts.push(`${down} node${down > 1 ? 's' : ''} down`);
  return parts.join('; ');
}

/**
 * seenAliveBy counts, for each node, how many of the other running worker
 * nodes see it alive (from the links' sees_alive): "the others noticed"
 * when a crashed node is seen alive by none. Nodes no link speaks about
 * are left out.
 */
export function seenAliveBy(nodes: readonly NodeInfo[], links: readonly Link[]): Map<string, { by: number; of: number }> {
  const observers = new Set(
    nodes.filter((n) => n.role !== 'observer' && health(n) !== 'dead' && health(n) !== 'left').map((n) => n.name),
  );
  const out = new Map<string, { by: number; of: number }>();
  for (const l of links) {
    if (!observers.has(l.from) || l.sees_alive === undefined || l.from === l.to) continue;
    const cur = out.get(l.to) ?? { by: 0, of: 0 };
    cur.of++;
    if (l.sees_alive) cur.by++;
    out.set(l.to, cur);
  }
  return out;
}
