import { describe, expect, it } from 'vitest';
import { alertFromEvent, normalizeAlert, normalizeReport, normalizeSamples, normalizeTimeline } from './healthTypes';

const alertJSON = {
  id: 'cpu_high/node-1/1',
  rule: 'cpu_high',
  metric: 'cpu',
  severity: 'warning',
  node: 'node-1',
  summary: 'host CPU of node-1 at 95%',
  evidence: { values: [{ time: '2025-01-01T10:00:00Z', value: 95.2 }, { bad: 1 }], threshold: 90 },
  remediation: 'run `clusterlab op run list_processes node=node-1`',
  state: 'raised',
  raised_at: '2025-01-01T10:00:00Z',
  acked_at: '0001-01-01T00:00:00Z',
};

describe('health readers', () => {
  it('reads alerts defensively', () => {
    const a = normalizeAlert(alertJSON)!;
    expect(a.evidence.values).toHaveLength(1);
    expect(a.acked_at).toBeUndefined();
    expect(normalizeAlert({ id: 'x', severity: 'bogus', state: 'nope' })).toMatchObject({ severity: 'warning', state: 'raised', summary: 'x' });
    expect(normalizeAlert({ rule: 'x' })).toBeNull();
    expect(alertFromEvent({ event: 'raised', alert: alertJSON })?.id).toBe(alertJSON.id);
    expect(alertFromEvent(alertJSON)?.id).toBe(alertJSON.id);
    expect(alertFromEvent('junk')).toBeNull();
  });

  it('reads the H-api health_status shape', () => {
    const r = normalizeReport({
      time: '2025-01-01T10:00:00Z',
      observer: 'observer',
      interval_ms: 2000,
      nodes: [
        { node: 'node-2', role: 'worker', state: 'alive', status: 'warning', health_score: 0, rtt_ms: 0.42, answered: true, resources: { time: 't', cpu_percent: 95, mem_used_percent: 30, load1: 2 }, processes: 4, alerts: 1 },
        { node: 'node-1', role: 'worker', state: 'dead', status: 'critical', answered: false, error: 'unreachable' },
        { nothing: true },
      ],
      partition: { split: true, groups: [['node-2', 'observer'], ['node-3', 'node-4']], unobserved: [1], lost: ['node-3', 'node-4'], asymmetric: [{ from: 'a', to: 'b' }], broken_links: [], summary: 's' },
      monitor: { interval_ms: 2000, base_interval_ms: 1000, cpu_percent_of_core: 0.4, tick_cpu_ms: 2.1, budget_percent: 1, host_cpu_percent: -1, backed_off: true, paused: ['timeline'] },
      services: [{ name: 'health.sampler', state: 'running', restarts: 2, last_error: 'boom' }],
      alerts_active: 1,
      alerts: [alertJSON],
    })!;
    expect(r.nodes.map((n) => n.name)).toEqual(['node-1', 'node-2']);
    expect(r.nodes[1]).toMatchObject({ status: 'warning', rttMs: 0.42, processes: 4, alerts: 1, resources: { cpu_percent: 95, load1: 2 } });
    expect(r.nodes[0]).toMatchObject({ status: 'critical', answered: false, error: 'unreachable' });
    expect(r.partition.groups).toEqual([
      { nodes: ['node-2', 'observer'], observed: true },
      { nodes: ['node-3', 'node-4'], observed: false },
    ]);
    expect(r.partition.asymmetric).toEqual([{ from: 'a', to: 'b' }]);
    expect(r.monitor).toMatchObject({ intervalMs: 2000, baseIntervalMs: 1000, cpuPercentOfCore: 0.4, budgetPercent: 1, backedOff: true, paused: ['timeline'], hostCpu: undefined, tickCpuMs: 2.1 });
    expect(r.services[0]).toMatchObject({ name: 'health.sampler', restarts: 2, lastError: 'boom', state: 'running' });
    expect(r.alerts).toHaveLength(1);
    expect(r.alertsActive).toBe(1);
  });

  it('reads health.Report JSON (ns durations, fractions of a core, object groups)', () => {
    const r = normalizeReport({
      nodes: [{ name: 'n', state: 'alive', answered: false, rtt_ns: 2_000_000 }],
      interval_ns: 2e9,
      base_interval_ns: 1e9,
      overhead: 0.004,
      budget: 0.01,
      partition: { split: false, groups: [{ nodes: ['n'], observed: true }], broken_links: ['a→b'] },
    })!;
    expect(r.nodes[0]).toMatchObject({ rttMs: 2, status: 'unreachable' });
    expect(r.monitor).toMatchObject({ intervalMs: 2000, baseIntervalMs: 1000, backedOff: true, paused: [] });
    expect(r.monitor.cpuPercentOfCore).toBeCloseTo(0.4);
    expect(r.monitor.budgetPercent).toBeCloseTo(1);
    expect(r.partition.brokenLinks).toEqual([{ from: 'a', to: 'b' }]);
    expect(normalizeReport({ alerts: [] })).toBeNull();
    expect(normalizeReport(null)).toBeNull();
  });

  it('reads the timeline in both shapes, oldest first', () => {
    const t = normalizeTimeline({
      entries: [
        { time: '2025-01-01T10:00:02Z', observer: 'node-2', subject: 'node-1', kind: 'dead', seq: 3 },
        { time: '2025-01-01T10:00:01Z', observer: 'node-1', member: 'node-3', type: 'join', rejoin: true },
        { time: 'not a time', observer: 'x' },
        { observer: 'x' },
      ],
    });
    expect(t.map((x) => `${x.observer}:${x.subject}:${x.kind}`)).toEqual(['node-1:node-3:rejoin', 'node-2:node-1:dead']);
  });

  it('reads resource samples', () => {
    expect(normalizeSamples({ node: 'n', samples: [{ time: 't', cpu_percent: 1 }, 'x'] })).toEqual([{ time: 't', cpu_percent: 1 }]);
    expect(normalizeSamples(null)).toEqual([]);
  });
});
