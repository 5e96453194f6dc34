import { describe, expect, it } from 'vitest';
import { OUTSIDE, buildSequence, mergeEvents, type TraceEvent } from './sequence';

const ev = (seq: number, kind: string, extra: Partial<TraceEvent> = {}): TraceEvent => ({
  seq,
  time: `2025-01-01T00:00:0${seq}Z`,
  node: 'node-2',
  pid: 'node-2/5',
  kind,
  ...extra,
});

describe('buildSequence', () => {
  it('lays out lanes by node and arrows by direction', () => {
    const { lanes, rows } = buildSequence([
      ev(2, 'send', { from: 'node-2/5', to: 'node-1/3', msg_kind: 'pong' }),
      ev(1, 'receive', { from: 'node-1/3', to: 'node-2/5', msg_kind: 'ping', summary: 'hi' }),
      ev(3, 'spawn', { to: 'node-2/12' }),
      ev(4, 'receive', { msg_kind: 'tick' }),
      ev(5, 'exit', { reason: 'killed' }),
    ]);
    expect(lanes.map((l) => l.pid)).toEqual([OUTSIDE, 'node-1/3', 'node-2/5', 'node-2/12']);
    expect(rows.map((r) => [r.seq, r.from, r.to, r.label, r.remote])).toEqual([
      [1, 1, 2, 'ping hi', true],
      [2, 2, 1, 'pong', true],
      [3, 2, 3, 'spawn node-2/12', false],
      [4, 0, 2, 'tick', true],
      [5, 2, 2, 'exit (killed)', false],
    ]);
  });
  it('empty', () => {
    expect(buildSequence([])).toEqual({ lanes: [], rows: [] });
  });
});

describe('mergeEvents', () => {
  it('appends only newer events and caps the total', () => {
    const a = [ev(1, 'send'), ev(2, 'send')];
    expect(mergeEvents(a, [ev(2, 'send'), ev(4, 'send'), ev(3, 'send')]).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(mergeEvents(a, [ev(3, 'x'), ev(4, 'x')], 3).map((e) => e.seq)).toEqual([2, 3, 4]);
  });
});
