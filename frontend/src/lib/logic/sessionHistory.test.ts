import { describe, expect, it } from 'vitest';
import { formatElapsed, historyValues, isRedacted, searchHistory, summarizeParams, timeAgo } from './sessionHistory';
import type { OperationRecord } from './session';

const rec = (id: number, operation: string, params: Record<string, unknown>, time = `2026-01-01T00:00:${String(id).padStart(2, '0')}Z`): OperationRecord => ({
  id,
  time,
  operation,
  params,
  ok: true,
  duration_ms: 1,
});

describe('history', () => {
  it('turns a run back into form values, without the secrets', () => {
    const r = rec(1, 'cluster_connect', { seeds: ['a:1', 'b:2'], key: '[redacted]', save: true, timeout: '10s', groups: [['a'], ['b']] });
    expect(historyValues(r)).toEqual({ seeds: 'a:1,b:2', save: 'true', timeout: '10s', groups: '[["a"],["b"]]' });
    expect(historyValues(r, [{ name: 'seeds', type: 'list' }])).toEqual({ seeds: 'a:1,b:2' });
    expect(isRedacted('token', 'abc')).toBe(true);
    expect(isRedacted('body', '[redacted]')).toBe(true);
    expect(isRedacted('body', 'hello')).toBe(false);
  });

  it('summarises on one line, secrets hidden', () => {
    expect(summarizeParams({ pid: 'node-1/4', reason: 'killed' })).toBe('pid=node-1/4 reason=killed');
    expect(summarizeParams({ key: '[redacted]', n: 3 })).toBe('key=••• n=3');
    expect(summarizeParams({ body: 'x'.repeat(200) }, 20)).toHaveLength(20);
  });

  it('searches by operation and params, one per distinct run', () => {
    const rs = [rec(5, 'node_crash', { node: 'node-2' }), rec(4, 'node_crash', { node: 'node-2' }), rec(3, 'kill_process', { pid: 'node-2/9' }), rec(2, 'node_restart', { node: 'node-3' })];
    expect(searchHistory(rs, '').map((r) => r.id)).toEqual([5, 3, 2]);
    expect(searchHistory(rs, 'node-2').map((r) => r.id)).toEqual([5, 3]);
    expect(searchHistory(rs, 'node crash').map((r) => r.id)).toEqual([5]);
    expect(searchHistory(rs, '', 1)).toHaveLength(1);
  });

  it('formats the recording clock and ages', () => {
    expect(formatElapsed(0)).toBe('0:00');
    expect(formatElapsed(65_400)).toBe('1:05');
    expect(formatElapsed(3_725_000)).toBe('1:02:05');
    expect(formatElapsed(-5)).toBe('0:00');
    const now = Date.parse('2026-01-01T01:00:00Z');
    expect(timeAgo('2026-01-01T00:59:30Z', now)).toBe('30 s ago');
    expect(timeAgo('2026-01-01T00:30:00Z', now)).toBe('30 min ago');
    expect(timeAgo('bad', now)).toBe('');
  });
});
