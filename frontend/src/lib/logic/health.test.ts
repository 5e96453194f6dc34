import { describe, expect, it } from 'vitest';
import {
  activeAlerts,
  alertHistory,
  badgeCounts,
  badgeLabel,
  boundAlerts,
  distributionLines,
  evidenceLine,
  formatInterval,
  formatPercent,
  mergeAlert,
  mergeAlerts,
  nodeStatusWithAlerts,
  parseCommand,
  parseRemediation,
  partitionWords,
  reconcileActive,
  remedyOps,
  unhealthyNodes,
} from './health';
import type { Alert, NodeHealth, PartitionState } from './healthTypes';

function alert(id: string, over: Partial<Alert> = {}): Alert {
  return {
    id,
    rule: 'cpu_high',
    metric: 'cpu',
    severity: 'warning',
    node: 'node-1',
    summary: `alert ${id}`,
    evidence: { values: [] },
    remediation: '',
    state: 'raised',
    raised_at: '2025-01-01T10:00:00Z',
    ...over,
  };
}

describe('alert lifecycle', () => {
  it('merges events by id and never moves an alert back', () => {
    let m = mergeAlert(new Map(), alert('a'));
    expect(m.get('a')?.state).toBe('raised');
    m = mergeAlert(m, alert('a', { state: 'acknowledged', acked_at: '2025-01-01T10:00:05Z' }));
    expect(m.get('a')?.state).toBe('acknowledged');
    // A late duplicate "raised" event does not undo the ack.
    m = mergeAlert(m, alert('a'));
    expect(m.get('a')).toMatchObject({ state: 'acknowledged', acked_at: '2025-01-01T10:00:05Z' });
    // Resolved keeps the ack time even when the resolve event omits it.
    m = mergeAlert(m, alert('a', { state: 'resolved', resolved_at: '2025-01-01T10:01:00Z', resolution: 'back within the threshold' }));
    expect(m.get('a')).toMatchObject({ state: 'resolved', acked_at: '2025-01-01T10:00:05Z', resolution: 'back within the threshold' });
    m = mergeAlert(m, alert('a', { state: 'acknowledged' }));
    expect(m.get('a')?.state).toBe('resolved');
  });

  it('orders active alerts (unacked, severe, newest) and history (recently resolved first)', () => {
    const m = mergeAlerts(new Map(), [
      alert('w-old', { raised_at: '2025-01-01T10:00:00Z' }),
      alert('w-new', { raised_at: '2025-01-01T10:00:10Z' }),
      alert('c', { severity: 'critical' }),
      alert('acked', { severity: 'critical', state: 'acknowledged' }),
      alert('r1', { state: 'resolved', resolved_at: '2025-01-01T10:02:00Z' }),
      alert('r2', { state: 'resolved', resolved_at: '2025-01-01T10:03:00Z' }),
    ]);
    expect(activeAlerts(m).map((a) => a.id)).toEqual(['c', 'w-new', 'w-old', 'acked']);
    expect(alertHistory(m).map((a) => a.id)).toEqual(['r2', 'r1']);
  });

  it('reconciles with a report listing every active alert', () => {
    let m = mergeAlerts(new Map(), [alert('gone'), alert('stays')]);
    m = reconcileActive(m, [alert('stays', { state: 'acknowledged' }), alert('new', { severity: 'critical' })], '2025-01-01T11:00:00Z');
    expect(m.get('gone')).toMatchObject({ state: 'resolved', resolved_at: '2025-01-01T11:00:00Z' });
    expect(m.get('stays')?.state).toBe('acknowledged');
    expect(m.get('new')?.state).toBe('raised');
    // An alert whose event overtook an older report stays raised.
    m = mergeAlert(m, alert('late', { raised_at: '2025-01-01T11:00:05Z' }));
    m = reconcileActive(m, [], '2025-01-01T11:00:04Z');
    expect(m.get('late')?.state).toBe('raised');
    expect(m.get('new')?.state).toBe('resolved');
    m = reconcileActive(m, [], '');
    expect(m.get('late')?.state).toBe('raised');
  });

  it('bounds the alerts by dropping the oldest resolved ones', () => {
    const list = [alert('active')];
    for (let i = 0; i < 5; i++) list.push(alert(`r${i}`, { state: 'resolved', resolved_at: `2025-01-01T10:0${i}:00Z` }));
    const m = boundAlerts(mergeAlerts(new Map(), list, 100), 3);
    expect([...m.keys()].sort()).toEqual(['active', 'r3', 'r4']);
  });
});

describe('badge', () => {
  it('counts active alerts by severity', () => {
    const c = badgeCounts([
      alert('1', { severity: 'critical' }),
      alert('2'),
      alert('3', { state: 'acknowledged', severity: 'critical' }),
      alert('4', { severity: 'info' }),
      alert('5', { state: 'resolved', severity: 'critical' }),
    ]);
    expect(c).toEqual({ critical: 2, warning: 1, info: 1, total: 4, unacked: 3, worst: 'critical' });
    expect(badgeLabel(c)).toBe('2 critical · 1 warning · 1 info');
    expect(badgeLabel(badgeCounts([]))).toBe('no alerts');
    expect(badgeCounts([alert('x', { state: 'acknowledged' })]).worst).toBe('');
  });
});

describe('unhealthy nodes', () => {
  const node = (name: string, status: NodeHealth['status']): NodeHealth => ({ name, state: 'alive', status });
  it('rings nodes by their status raised by their alerts', () => {
    const u = unhealthyNodes(
      [node('a', 'ok'), node('b', 'unreachable'), node('c', 'ok'), node('d', 'ok')],
      [alert('1', { node: 'a', severity: 'critical' }), alert('2', { node: 'b' }), alert('3', { node: 'd', severity: 'info' }), alert('4', { node: 'e' }), alert('5', { node: 'c', state: 'resolved' })],
    );
    expect(Object.fromEntries(u)).toEqual({ a: 'critical', b: 'unreachable', e: 'warning' });
    expect(nodeStatusWithAlerts('ok', 'warning')).toBe('warning');
    expect(nodeStatusWithAlerts('critical', 'warning')).toBe('critical');
  });
});

describe('partition wording', () => {
  const base: PartitionState = { split: false, groups: [{ nodes: ['a', 'b'], observed: true }], asymmetric: [], brokenLinks: [], lost: [] };
  it('says the cluster is whole', () => {
    expect(partitionWords(base)).toEqual({ ok: true, headline: 'The cluster is whole: every node reaches the others.', details: [] });
    expect(partitionWords(null).headline).toMatch(/no partition data/i);
  });
  it('names the groups of a split and which side the observer lost', () => {
    const w = partitionWords(
      { ...base, split: true, confirmed: false, since: 'T', groups: [{ nodes: ['a', 'b', 'observer'], observed: true }, { nodes: ['c', 'd'], observed: false }] },
      (s) => `at ${s}`,
    );
    expect(w.ok).toBe(false);
    expect(w.headline).toBe('The cluster is split into 2 groups since at T.');
    expect(w.details[0]).toBe('Group 1: {a, b, observer} — answers the observer.');
    expect(w.details[1]).toContain("{c, d} — lost by the observer's side");
    expect(w.details[2]).toMatch(/^Not confirmed/);
  });
  it('words asymmetric cuts and broken links', () => {
    const w = partitionWords({ ...base, asymmetric: [{ from: 'a', to: 'b' }], brokenLinks: [{ from: 'a', to: 'c' }] });
    expect(w.ok).toBe(false);
    expect(w.headline).toBe('The cluster holds together, but 2 links are cut.');
    expect(w.details).toEqual([
      'One-way cut a → b: a still sees b alive, but b hears nothing from a.',
      'Direct link a ↔ c is down; gossip routes around it, so the cluster holds together.',
    ]);
  });
});

describe('remediation', () => {
  it('parses the commands a remediation names', () => {
    expect(parseCommand('clusterlab op run node_restart node=node-3 --yes')).toEqual({
      op: 'node_restart',
      params: { node: 'node-3' },
      confirm: true,
      command: 'clusterlab op run node_restart node=node-3 --yes',
    });
    expect(parseCommand('op run heal')).toMatchObject({ op: 'heal', params: {}, confirm: false });
    expect(parseCommand('kubectl get pods')).toBeNull();
    expect(parseCommand('clusterlab op run')).toBeNull();
  });
  it('splits text and commands', () => {
    const text =
      'run `clusterlab op run node_info node=node-3`; in the simulator restart it with `clusterlab op run node_restart node=node-3 --yes`';
    const parts = parseRemediation(text);
    expect(parts.map((p) => (p.op ? `[${p.op.op}]` : p.text))).toEqual(['run ', '[node_info]', '; in the simulator restart it with ', '[node_restart]']);
    expect(remedyOps(text).map((o) => o.op)).toEqual(['node_info', 'node_restart']);
    expect(remedyOps('run `clusterlab op run heal --yes` or `clusterlab op run heal --yes`')).toHaveLength(1);
    expect(parseRemediation('look at `top`')).toEqual([{ text: 'look at ' }, { text: 'top', code: true }]);
  });
});

describe('formatting', () => {
  it('prints evidence, percentages and intervals', () => {
    expect(
      evidenceLine(alert('x', { evidence: { values: [{ time: '', value: 95.25 }, { time: '', value: 96 }], threshold: 90 } })),
    ).toBe('cpu 95.3, 96 · threshold 90');
    expect(evidenceLine(alert('x', { metric: 'rtt_ms', evidence: { values: [{ time: '', value: 12 }], threshold: 3, baseline: 0.5, detail: 'd' } }))).toBe(
      'rtt_ms 12 · baseline 0.5 (threshold ×3) · d',
    );
    expect(formatPercent(0.42)).toBe('0.42%');
    expect(formatPercent(5.55)).toBe('5.5%');
    expect(formatPercent(55.5)).toBe('56%');
    expect(formatPercent(undefined)).toBe('–');
    expect(formatInterval(1000)).toBe('1 s');
    expect(formatInterval(2500)).toBe('2.5 s');
    expect(formatInterval(250)).toBe('250 ms');
  });
});

describe('distribution', () => {
  it('says where work runs', () => {
    expect(distributionLines(undefined)).toEqual([]);
    expect(distributionLines({ process_imbalance: 0, supervisor_imbalance: 0 })).toEqual([]);
    expect(
      distributionLines({
        process_imbalance: 3.24,
        supervisor_imbalance: 2,
        children: { missing: ['web/w1'], duplicated: ['web/w2 (node-1, node-2)'] },
        registry_conflicts: [{}, {}],
      }),
    ).toEqual([
      'Imbalance: processes ×3.2 of the mean on the busiest node; supervised children ×2.0.',
      'Children running nowhere: web/w1.',
      'Children running twice: web/w2 (node-1, node-2).',
      '2 registry name conflicts settled in the last minutes.',
    ]);
  });
});
