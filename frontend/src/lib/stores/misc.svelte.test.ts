import { describe, expect, it } from 'vitest';
import { FakeTimers } from '../logic/fakeTimers';
import { ApiError } from '../api/errors';
import { CatalogStore } from './catalog.svelte';
import { ClusterStore } from './cluster.svelte';
import { Operations } from './operations.svelte';
import { SimulatorStore } from './simulator.svelte';
import { MAX_TOASTS, TOAST_TTL, Toasts } from './toasts.svelte';
import { parseView } from './app.svelte';
import { testApi } from './testkit';

describe('Toasts', () => {
  it('errors stay until dismissed; others expire', () => {
    const timers = new FakeTimers();
    const t = new Toasts(timers);
    const e = t.error('Kill failed', new ApiError({ code: 'not_found', message: 'no such process', remediation: 'list them' }));
    t.success('ok');
    expect(t.items.map((x) => x.kind)).toEqual(['error', 'success']);
    timers.advance(TOAST_TTL);
    expect(t.items).toHaveLength(1);
    expect(t.items[0]).toMatchObject({ title: 'Kill failed', message: 'no such process', remediation: 'list them', code: 'not_found' });
    t.dismiss(e);
    expect(t.items).toHaveLength(0);
  });
  it('drops the oldest non-errors beyond the cap', () => {
    const t = new Toasts(new FakeTimers());
    t.error('e', new Error('x'));
    for (let i = 0; i < MAX_TOASTS + 3; i++) t.info(`i${i}`);
    expect(t.items).toHaveLength(MAX_TOASTS);
    expect(t.items[0].kind).toBe('error');
  });
});

describe('Operations', () => {
  it('refuses an operation the catalog lacks, with a toast', async () => {
    const api = testApi(() => ({ json: {} }));
    const cat = new CatalogStore(api.client);
    cat.setCatalog({ operations: [], failures: [], simulated: false });
    const toasts = new Toasts(new FakeTimers());
    const ops = new Operations(api.client, cat, toasts);
    const r = await ops.run('trace_start', {});
    expect(r.ok).toBe(false);
    expect(api.calls).toHaveLength(0);
    expect(toasts.items[0].title).toBe('trace_start is not available');
  });
  it('records history and toasts failures with remediation', async () => {
    const api = testApi(() => ({ status: 422, json: { error: { code: 'simulator_only', message: 'needs the simulator', remediation: 'start one' } } }));
    const cat = new CatalogStore(api.client);
    cat.setCatalog({ operations: [{ name: 'heal', category: 'simulator', summary: '', params: [], simulator_only: true }], failures: [], simulated: false });
    expect(cat.has('heal')).toBe(false); // simulator-only on a real cluster
    const toasts = new Toasts(new FakeTimers());
    const ops = new Operations(api.client, cat, toasts);
    const r = await ops.run('heal');
    expect(r.ok).toBe(false);
    expect(ops.history[0]).toMatchObject({ name: 'heal', ok: false, error: 'needs the simulator' });
    expect(toasts.items[0]).toMatchObject({ kind: 'error', remediation: 'start one' });
  });
});

describe('SimulatorStore', () => {
  it('applies the builder groups and refreshes the cluster', async () => {
    const api = testApi((_m, path) => (path.startsWith('/api/v1/topology') ? { json: { nodes: [], links: [] } } : { json: { result: { ok: true } } }));
    const cat = new CatalogStore(api.client);
    cat.setCatalog({
      operations: ['partition', 'heal', 'node_crash'].map((name) => ({ name, category: 'simulator', summary: '', params: [], simulator_only: true })),
      failures: [],
      simulated: true,
    });
    const toasts = new Toasts(new FakeTimers());
    const cluster = new ClusterStore(api.client, api.events);
    const sim = new SimulatorStore(new Operations(api.client, cat, toasts), cluster);
    sim.resetAssignment(['n1', 'n2', 'n3']);
    expect(sim.problem).not.toBe('');
    sim.assign('n3', 2);
    expect(sim.groups).toEqual([['n1', 'n2'], ['n3']]);
    await sim.applyPartition();
    expect(api.calls[0]).toMatchObject({ method: 'POST', url: '/api/v1/operations/partition', body: { groups: [['n1', 'n2'], ['n3']] } });
    expect(api.calls[1].url).toBe('/api/v1/topology');
    await sim.crash('n2');
    expect(api.calls[2].headers['X-Clusterlab-Confirm']).toBe('true');
    sim.presetHalves(['n1', 'n2', 'n3', 'n4']);
    expect(sim.groups).toEqual([['n1', 'n2'], ['n3', 'n4']]);
  });
});

describe('parseView', () => {
  it.each([
    ['', 'topology'],
    ['#/processes', 'processes'],
    ['#simulator', 'simulator'],
    ['#/nope', 'topology'],
    ['#/traces/abc', 'traces'],
  ])('parseView(%j) = %s', (h, want) => {
    expect(parseView(h)).toBe(want);
  });
});

import { OpResource } from './resource.svelte';
import { flush as flushAll } from './testkit';

describe('OpResource', () => {
  it('runs the operation with its params, keeps errors inline and refreshes on events and timers', async () => {
    const timers = new FakeTimers();
    let n = 0;
    const api = testApi(() => (++n === 2 ? { status: 502, json: { error: { code: 'timeout', message: 'slow', remediation: 'retry' } } } : { json: { result: { entries: [n] } } }));
    let prefix = 'a';
    const r = new OpResource<{ entries: number[] }>(api.client, api.events, 'registry_list', () => ({ prefix }), timers);
    const stop = r.start({ topics: ['registry'], pollMs: 1000, coalesceMs: 100 });
    await flushAll();
    expect(r.data).toEqual({ entries: [1] });
    expect(api.calls[0].body).toEqual({ prefix: 'a' });
    prefix = 'b';
    api.emit('registry', {});
    await flushAll();
    expect(r.error?.remediation).toBe('retry');
    expect(r.data).toEqual({ entries: [1] });
    timers.advance(1000);
    await flushAll();
    expect(r.error).toBeNull();
    expect(r.data).toEqual({ entries: [3] });
    expect(api.calls[2].body).toEqual({ prefix: 'b' });
    stop();
    timers.advance(5000);
    await flushAll();
    expect(api.calls).toHaveLength(3);
  });
});
