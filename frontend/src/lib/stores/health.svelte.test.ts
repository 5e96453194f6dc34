import { describe, expect, it } from 'vitest';
import { FakeTimers } from '../logic/fakeTimers';
import { HealthStore } from './health.svelte';
import { flush, testApi } from './testkit';

function alertJSON(id: string, over: Record<string, unknown> = {}) {
  return { id, rule: 'cpu_high', metric: 'cpu', severity: 'warning', node: 'node-1', summary: id, evidence: { values: [] }, remediation: '', state: 'raised', raised_at: '2025-01-01T10:00:00Z', ...over };
}
function report(over: Record<string, unknown> = {}) {
  return {
    time: '2025-01-01T10:00:00Z',
    nodes: [
      { node: 'node-1', role: 'worker', state: 'alive', status: 'ok', answered: true, resources: { time: '2025-01-01T10:00:00Z', cpu_percent: 10, mem_used_percent: 20 } },
      { node: 'node-2', role: 'worker', state: 'dead', status: 'critical', answered: false },
    ],
    partition: { split: false, groups: [['node-1']] },
    monitor: { interval_ms: 1000, paused: [] },
    alerts_active: 0,
    ...over,
  };
}
const catalog = (ops: string[], loaded = true) => ({ loaded, has: (n: string) => loaded && ops.includes(n) });
const ALL = ['health_status', 'alerts_list', 'alert_ack', 'membership_timeline', 'node_resources'];

describe('HealthStore', () => {
  it('waits for the catalog, loads the report and alerts, then follows events', async () => {
    const timers = new FakeTimers();
    let alerts: unknown[] = [alertJSON('a1')];
    const api = testApi((_m, path, body) => {
      if (path.endsWith('/health_status')) return { json: { result: report({ alerts_active: 1 }) } };
      if (path.endsWith('/alerts_list')) {
        expect(body).toEqual({ state: 'all', limit: 500 });
        return { json: { result: { alerts, total: alerts.length } } };
      }
      return { status: 404, json: { error: { code: 'not_found', message: path } } };
    });
    const cat = { loaded: false, has: (n: string) => cat.loaded && ALL.includes(n) };
    const s = new HealthStore(api.client, api.events, cat, { timers, pollMs: 5000, staleMs: 3000 });
    const stop = s.start();
    await flush();
    expect(api.calls).toHaveLength(0);
    cat.loaded = true;
    timers.advance(300);
    await flush();
    expect(s.report?.nodes).toHaveLength(2);
    expect(s.active.map((a) => a.id)).toEqual(['a1']);
    expect(s.counts.warning).toBe(1);
    expect(s.status('node-1')).toBe('warning');
    expect(s.status('node-2')).toBe('critical');

    // An alerts event merges at once; a resolved one leaves the badge.
    api.emit('alerts', { event: 'raised', alert: alertJSON('a2', { severity: 'critical', node: 'node-3' }) });
    expect(s.counts).toMatchObject({ critical: 1, warning: 1, total: 2, worst: 'critical' });
    api.emit('alerts', { event: 'resolved', alert: alertJSON('a1', { state: 'resolved', resolved_at: '2025-01-01T10:01:00Z' }) });
    expect(s.counts.total).toBe(1);
    expect(s.history.map((a) => a.id)).toEqual(['a1']);
    expect(s.status('node-1')).toBeUndefined();

    // Fresh health events keep the poll away.
    const statusCalls = () => api.calls.filter((c) => c.url.endsWith('/health_status')).length;
    const before = statusCalls();
    for (let i = 0; i < 4; i++) {
      timers.advance(1000);
      api.emit('health', report({ alerts_active: 1 }));
    }
    timers.advance(1000);
    await flush();
    expect(statusCalls()).toBe(before);
    // Silence: the store polls again.
    timers.advance(10_000);
    await flush();
    expect(statusCalls()).toBeGreaterThan(before);

    // A count that disagrees asks alerts_list again (coalesced).
    const listCalls = () => api.calls.filter((c) => c.url.endsWith('/alerts_list')).length;
    const l0 = listCalls();
    alerts = [alertJSON('a2', { severity: 'critical', node: 'node-3' }), alertJSON('a3')];
    api.emit('health', report({ alerts_active: 2 }));
    api.emit('health', report({ alerts_active: 2 }));
    await flush();
    timers.advance(1000);
    await flush();
    expect(listCalls()).toBeGreaterThan(l0);
    expect(s.active.map((a) => a.id).sort()).toEqual(['a2', 'a3']);
    stop();
  });

  it('keeps the unhealthy map identical while it does not change', () => {
    const api = testApi(() => ({ json: {} }));
    const s = new HealthStore(api.client, api.events, catalog(ALL));
    s.applyReport(report());
    const first = s.unhealthy;
    expect(Object.fromEntries(first)).toEqual({ 'node-2': 'critical' });
    s.applyReport(report());
    expect(s.unhealthy).toBe(first);
    s.applyAlert(alertJSON('x', { node: 'node-1' }));
    expect(s.unhealthy).not.toBe(first);
    expect(s.status('node-1')).toBe('warning');
  });

  it('settles alerts from a report that lists them', () => {
    const api = testApi(() => ({ json: {} }));
    const s = new HealthStore(api.client, api.events, catalog(ALL));
    s.applyAlert(alertJSON('old'));
    s.applyReport(report({ alerts: [alertJSON('new', { severity: 'critical' })], alerts_active: 1 }));
    expect(s.active.map((a) => a.id)).toEqual(['new']);
    expect(s.alerts.get('old')?.state).toBe('resolved');
  });

  it('acknowledges an alert', async () => {
    const api = testApi((_m, path, body) => {
      if (path.endsWith('/alert_ack')) {
        const id = (body as { id: string }).id;
        if (id === 'missing') return { status: 404, json: { error: { code: 'not_found', message: 'no alert missing', remediation: 'list them' } } };
        return { json: { result: alertJSON(id, { state: 'acknowledged', acked_at: '2025-01-01T10:00:30Z' }) } };
      }
      return { json: {} };
    });
    const s = new HealthStore(api.client, api.events, catalog(ALL));
    s.applyAlert(alertJSON('a1'));
    const p = s.ack('a1');
    expect(s.isAcking('a1')).toBe(true);
    const r = await p;
    expect(r.ok).toBe(true);
    expect(s.isAcking('a1')).toBe(false);
    expect(s.alerts.get('a1')).toMatchObject({ state: 'acknowledged', acked_at: '2025-01-01T10:00:30Z' });
    expect(s.counts).toMatchObject({ total: 1, unacked: 0, worst: '' });
    const bad = await s.ack('missing');
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error).toMatchObject({ code: 'not_found', remediation: 'list them' });
  });

  it('keeps the last report when a refresh fails', async () => {
    let fail = false;
    const api = testApi(() => (fail ? { status: 422, json: { error: { code: 'unprocessable', message: 'no monitor' } } } : { json: { result: report() } }));
    const s = new HealthStore(api.client, api.events, catalog(ALL));
    await s.refresh();
    fail = true;
    await s.refresh();
    expect(s.error?.code).toBe('unprocessable');
    expect(s.report?.nodes).toHaveLength(2);
  });

  it('makes a node resource series from node_resources and later reports', async () => {
    const api = testApi((_m, path, body) => {
      if (path.endsWith('/node_resources')) {
        expect(body).toEqual({ node: 'node-1', window: '300s' });
        return {
          json: {
            result: {
              node: 'node-1',
              samples: [
                { time: '2025-01-01T09:59:58Z', cpu_percent: 5, mem_used_percent: 20 },
                { time: '2025-01-01T09:59:59Z', cpu_percent: 6, mem_used_percent: 20 },
              ],
            },
          },
        };
      }
      return { json: {} };
    });
    const s = new HealthStore(api.client, api.events, catalog(ALL));
    const series = s.series('node-1');
    const stop = series.start();
    await flush();
    expect(series.points.map((p) => p.cpu)).toEqual([5, 6]);
    s.applyReport(report());
    expect(series.points.map((p) => p.cpu)).toEqual([5, 6, 10]);
    s.applyReport(report()); // same sample time: not twice
    expect(series.points).toHaveLength(3);
    stop();
    s.applyReport(report({ nodes: [{ node: 'node-1', state: 'alive', resources: { time: '2025-01-01T10:00:05Z', cpu_percent: 99 } }] }));
    expect(series.points).toHaveLength(3);
  });

  it('loads and filters the membership timeline', async () => {
    const timers = new FakeTimers();
    const api = testApi((_m, path) => {
      if (path.endsWith('/membership_timeline')) {
        return {
          json: {
            result: {
              entries: [
                { time: '2025-01-01T10:00:00Z', observer: 'node-1', subject: 'node-3', kind: 'dead' },
                { time: '2025-01-01T10:00:01Z', observer: 'node-2', subject: 'node-1', kind: 'suspect' },
              ],
            },
          },
        };
      }
      return { json: {} };
    });
    const s = new HealthStore(api.client, api.events, catalog(ALL), { timers });
    const stop = s.timeline.start(3000);
    await flush();
    expect(s.timeline.entries).toHaveLength(2);
    expect(s.timeline.nodes).toEqual(['node-1', 'node-2', 'node-3']);
    s.timeline.setNode('node-3');
    expect(s.timeline.filtered.map((e) => e.observer)).toEqual(['node-1']);
    const calls = () => api.calls.filter((c) => c.url.endsWith('/membership_timeline')).length;
    api.emit('membership', { members: [] });
    timers.advance(1200);
    await flush();
    expect(calls()).toBe(2);
    timers.advance(3000);
    await flush();
    expect(calls()).toBeGreaterThanOrEqual(3);
    stop();
    const n = calls();
    timers.advance(30_000);
    await flush();
    expect(calls()).toBe(n);
  });
});
