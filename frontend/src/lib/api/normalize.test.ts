import { describe, expect, it } from 'vitest';
import { normalizeInfo, normalizeLink, normalizeNode, normalizeTopology, pidString } from './normalize';

describe('normalize', () => {
  it('reads the topology the API sends', () => {
    const t = normalizeTopology({
      observer: 'observer',
      simulated: true,
      seed: 7,
      nodes: [
        { name: 'node-1', role: 'worker', state: 'alive', processes: 6, sim_state: 'running', tags: { zone: 'a', bad: 1 } },
        { name: 'observer', role: 'observer', state: 'alive', local: true },
        { nope: true },
      ],
      links: [
        { from: 'node-1', to: 'node-2', sees_alive: true, reachable: false },
        { from: 'node-2', to: 'node-1', sees_alive: false },
        { from: 'x' },
      ],
      links_complete: true,
      missing: [{ node: 'node-3', code: 'timeout', message: 'slow' }, 'junk'],
    });
    expect(t.nodes.map((n) => n.name)).toEqual(['node-1', 'observer']);
    expect(t.nodes[0]).toMatchObject({ processes: 6, sim_state: 'running', tags: { zone: 'a' } });
    expect(t.links).toEqual([
      { from: 'node-1', to: 'node-2', reachable: false, sees_alive: true, latency_ms: undefined, loss: undefined },
      { from: 'node-2', to: 'node-1', reachable: false, sees_alive: false, latency_ms: undefined, loss: undefined },
    ]);
    expect(t).toMatchObject({ simulated: true, seed: 7, observer: 'observer', links_complete: true });
    expect(t.missing).toEqual([{ node: 'node-3', code: 'timeout', state: undefined, message: 'slow' }]);
  });
  it('survives garbage', () => {
    expect(normalizeTopology(null)).toMatchObject({ nodes: [], links: [], simulated: false });
    expect(normalizeNode('x')).toBeNull();
    expect(normalizeLink({ from: 'a' })).toBeNull();
    expect(normalizeInfo(3)).toEqual({ version: '', observer: '', simulated: false, seed: undefined, operations_version: undefined, last_event_id: undefined });
  });
  it('prints pids in both forms', () => {
    expect(pidString('n/1')).toBe('n/1');
    expect(pidString({ node: 'n', id: 2 })).toBe('n/2');
    expect(pidString(5)).toBe('');
  });
});
