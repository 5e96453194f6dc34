import { describe, expect, it } from 'vitest';
import type { Link, NodeInfo } from '../api/types';
import { connectivitySummary, deriveEdges, health, partitionGroups, reachability } from './topology';

const node = (name: string, state = 'alive', extra: Partial<NodeInfo> = {}): NodeInfo => ({ name, role: 'worker', state, ...extra });
const full = (names: string[], cut: [string, string][] = []): Link[] => {
  const out: Link[] = [];
  for (const a of names)
    for (const b of names)
      if (a !== b) out.push({ from: a, to: b, reachable: !cut.some(([x, y]) => x === a && y === b), sees_alive: true });
  return out;
};

describe('health', () => {
  it.each([
    [{ state: 'alive' }, 'alive'],
    [{ state: 'suspect' }, 'suspect'],
    [{ state: 'dead' }, 'dead'],
    [{ state: 'left' }, 'left'],
    [{ state: 'alive', sim_state: 'crashed' }, 'dead'],
    [{ state: 'alive', sim_state: 'stopped' }, 'left'],
    [{ state: 'weird' }, 'unknown'],
  ])('health(%j) = %s', (n, want) => {
    expect(health(n as NodeInfo)).toBe(want);
  });
});

describe('deriveEdges', () => {
  const names = ['n1', 'n2', 'n3'];
  it('all ok on a healthy cluster', () => {
    const edges = deriveEdges(names.map((n) => node(n)), full(names));
    expect(edges.map((e) => [e.id, e.state])).toEqual([
      ['n1|n2', 'ok'],
      ['n1|n3', 'ok'],
      ['n2|n3', 'ok'],
    ]);
  });
  it('a partition cuts the links between groups', () => {
    const cut: [string, string][] = [
      ['n1', 'n3'],
      ['n3', 'n1'],
      ['n2', 'n3'],
      ['n3', 'n2'],
    ];
    const nodes = names.map((n) => node(n));
    const edges = deriveEdges(nodes, full(names, cut));
    expect(edges.map((e) => e.state)).toEqual(['ok', 'cut', 'cut']);
    expect(partitionGroups(nodes, edges)).toEqual([['n1', 'n2'], ['n3']]);
    expect(connectivitySummary(nodes, edges)).toBe('partitioned into 2 groups: {n1, n2} {n3}');
  });
  it('a one-way cut is oneway with its direction', () => {
    const edges = deriveEdges(names.map((n) => node(n)), full(names, [['n1', 'n2']]));
    const e = edges.find((x) => x.id === 'n1|n2')!;
    expect(e).toMatchObject({ state: 'oneway', ab: false, ba: true });
  });
  it('reachable but not seen alive is converging', () => {
    const links = full(names).map((l) => (l.from === 'n1' && l.to === 'n2' ? { ...l, sees_alive: false } : l));
    const edges = deriveEdges(names.map((n) => node(n)), links);
    expect(edges.find((x) => x.id === 'n1|n2')!.state).toBe('converging');
  });
  it('leaves out dead nodes and observers unless asked', () => {
    const nodes = [node('n1'), node('n2', 'dead'), node('obs', 'alive', { role: 'observer' }), node('n3')];
    expect(deriveEdges(nodes, []).map((e) => e.id)).toEqual(['n1|n3']);
    expect(deriveEdges(nodes, [], { includeDown: true, includeObservers: true })).toHaveLength(6);
    expect(connectivitySummary(nodes, deriveEdges(nodes, []))).toBe('fully connected; 1 node down');
  });
  it('falls back to sees_alive, then to both alive, without links', () => {
    const nodes = [node('a', 'alive', { sees_alive: ['b'] }), node('b', 'alive', { sees_alive: [] }), node('c')];
    const r = reachability(nodes, []);
    expect(r.get('a>b')).toBe(true);
    expect(r.get('b>a')).toBe(false);
    expect(r.get('a>c')).toBe(false);
    expect(r.get('c>a')).toBe(true);
  });
  it('lossy links are degraded but still connect their group', () => {
    const links = full(['a', 'b']).map((l) => ({ ...l, loss: 0.3 }));
    const nodes = [node('a'), node('b')];
    const edges = deriveEdges(nodes, links);
    expect(edges[0]).toMatchObject({ state: 'degraded', loss: 0.3 });
    expect(partitionGroups(nodes, edges)).toEqual([['a', 'b']]);
  });
  it('no live nodes', () => {
    expect(connectivitySummary([node('a', 'dead')], [])).toBe('no live nodes; 1 node down');
  });
});

import { seenAliveBy } from './topology';

describe('seenAliveBy', () => {
  it('counts the running workers that see each node alive', () => {
    const nodes = [node('a'), node('b'), node('c', 'alive', { sim_state: 'crashed' }), node('o', 'alive', { role: 'observer' })];
    const links: Link[] = [
      { from: 'a', to: 'b', reachable: true, sees_alive: true },
      { from: 'a', to: 'c', reachable: false, sees_alive: false },
      { from: 'b', to: 'a', reachable: true, sees_alive: true },
      { from: 'b', to: 'c', reachable: false, sees_alive: true },
      { from: 'c', to: 'a', reachable: false, sees_alive: true },
      { from: 'o', to: 'a', reachable: true, sees_alive: true },
    ];
    const got = seenAliveBy(nodes, links);
    expect(got.get('c')).toEqual({ by: 1, of: 2 });
    expect(got.get('a')).toEqual({ by: 1, of: 1 });
    expect(got.get('b')).toEqual({ by: 1, of: 1 });
  });
});
