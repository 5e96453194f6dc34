import { describe, expect, it } from 'vitest';
import { FakeTimers } from '../logic/fakeTimers';
import { ClusterStore } from './cluster.svelte';
import { flush, testApi } from './testkit';

const names = ['node-1', 'node-2', 'node-3'];
function topo(cut = false) {
  const links = [];
  for (const a of names)
    for (const b of names)
      if (a !== b) {
        const across = cut && (a === 'node-3' || b === 'node-3');
        links.push({ from: a, to: b, sees_alive: true, reachable: !across });
      }
  return {
    observer: 'observer',
    simulated: true,
    seed: 42,
    nodes: [...names.map((n) => ({ name: n, role: 'worker', state: 'alive', processes: 6 })), { name: 'observer', role: 'observer', state: 'alive' }],
    links,
  };
}

describe('ClusterStore', () => {
  it('derives edges, groups and the summary from the topology', async () => {
    let cut = false;
    const api = testApi(() => ({ json: topo(cut) }));
    const s = new ClusterStore(api.client, api.events);
    await s.refresh();
    expect(s.workers.map((n) => n.name)).toEqual(names);
    expect(s.simulated).toBe(true);
    expect(s.seed).toBe(42);
    expect(s.groups).toHaveLength(1);
    expect(s.summary).toBe('fully connected');
    cut = true;
    await s.refresh();
    expect(s.groups).toEqual([['node-1', 'node-2'], ['node-3']]);
    expect(s.edges.filter((e) => e.state === 'cut').map((e) => e.id)).toEqual(['node-1|node-3', 'node-2|node-3']);
  });

  it('applies a membership snapshot at once, then refreshes (coalesced)', async () => {
    const timers = new FakeTimers();
    const api = testApi((_m, path) => (path === '/api/v1/info' ? { json: { simulated: true, seed: 1, observer: 'observer' } } : { json: topo() }));
    const s = new ClusterStore(api.client, api.events, { timers, pollMs: 2000, coalesceMs: 150 });
    const stop = s.start();
    await flush();
    const topologyCalls = () => api.calls.filter((c) => c.url === '/api/v1/topology').length;
    expect(topologyCalls()).toBe(1);
    api.emit('membership', {
      observer: 'observer',
      members: [{ name: 'node-2', role: 'worker', state: 'dead' }, { name: 'node-9', role: 'worker', state: 'alive' }],
      changes: [],
    });
    expect(s.node('node-2')?.state).toBe('dead');
    expect(s.node('node-9')?.state).toBe('alive');
    expect(s.node('node-1')?.processes).toBe(6);
    for (let i = 0; i < 5; i++) api.emit('membership', { members: [] });
    await flush();
    expect(topologyCalls()).toBe(2);
    timers.advance(150);
    await flush();
    expect(topologyCalls()).toBe(3);
    timers.advance(2000);
    await flush();
    expect(topologyCalls()).toBe(4);
    stop();
    timers.advance(10000);
    await flush();
    expect(topologyCalls()).toBe(4);
  });

  it('keeps the last topology when a refresh fails', async () => {
    let fail = false;
    const api = testApi(() => (fail ? new TypeError('Failed to fetch') : { json: topo() }));
    const s = new ClusterStore(api.client, api.events);
    await s.refresh();
    fail = true;
    await s.refresh();
    expect(s.error?.code).toBe('network');
    expect(s.nodes).toHaveLength(4);
  });
});
