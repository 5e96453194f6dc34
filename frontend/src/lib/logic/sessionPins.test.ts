import { describe, expect, it } from 'vitest';
import {
  NO_FACTS,
  NO_PINS,
  pinCount,
  pinName,
  pinPid,
  pinRows,
  pinsFromWire,
  pinsToWire,
  resolveNames,
  unpinName,
  unpinPid,
  type PinFacts,
} from './sessionPins';
import type { ProcessInfo } from '../api/types';

const proc = (pid: string, extra: Partial<ProcessInfo> = {}): ProcessInfo => ({
  pid,
  node: pid.split('/')[0],
  behavior: 'echo',
  status: 'waiting',
  mailbox: 0,
  messages_in: 0,
  messages_out: 0,
  ...extra,
});

describe('pins', () => {
  it('pin and unpin pids and names', () => {
    let p = pinPid(NO_PINS, 'node-1/4', 'simulator');
    p = pinPid(p, 'node-1/4', 'simulator');
    p = pinName(p, 'web', 'node-2/7');
    p = pinName(p, ' web ');
    expect(p.processes).toEqual(['node-1/4']);
    expect(p.origins).toEqual({ 'node-1/4': 'simulator' });
    expect(p.names).toEqual(['web']);
    expect(p.byName).toEqual({ web: 'node-2/7' });
    expect(pinCount(p)).toBe(2);
    p = unpinPid(p, 'node-1/4');
    p = unpinName(p, 'web');
    expect(p).toEqual(NO_PINS);
  });

  it('keeps explicit pids apart from the pids names resolve to, both ways over the wire', () => {
    let p = pinPid(NO_PINS, 'node-1/4', 'simulator');
    p = pinName(p, 'web', 'node-2/7');
    const wire = pinsToWire(p);
    expect(wire).toEqual({
      processes: ['node-1/4', 'node-2/7'],
      names: ['web'],
      by_name: { web: 'node-2/7' },
      origins: { 'node-1/4': 'simulator' },
    });
    expect(pinsFromWire(wire)).toEqual(p);
    expect(pinsToWire(NO_PINS)).toEqual({});
  });

  it('reads what SwitchMode wrote: stale pids of another mode, names re-resolved', () => {
    const p = pinsFromWire({
      processes: ['node-1/4', 'agent-2/9'],
      names: ['web', 'db'],
      by_name: { web: 'agent-2/9' },
      stale: ['node-1/4'],
      origins: { 'node-1/4': 'simulator' },
    });
    expect(p.processes).toEqual(['node-1/4']);
    expect(p.byName).toEqual({ web: 'agent-2/9' });
    const rows = pinRows(p, { ...NO_FACTS, info: new Map([['agent-2/9', proc('agent-2/9')]]), unresolved: new Set(['db']) }, 'prod');
    expect(rows.map((r) => [r.key, r.stale])).toEqual([
      ['pid:node-1/4', true],
      ['name:web', false],
      ['name:db', true],
    ]);
    expect(rows[0].why).toContain('pinned in simulator');
    expect(rows[1].info?.pid).toBe('agent-2/9');
    expect(rows[2].why).toContain('not registered');
  });

  it('marks a pid that is gone, and one whose node did not answer', () => {
    let p = pinPid(NO_PINS, 'node-1/4', 'simulator');
    p = pinPid(p, 'node-3/2', 'simulator');
    const facts: PinFacts = { ...NO_FACTS, missing: new Set(['node-1/4']), unknown: new Map([['node-3/2', 'cannot ask its node: node_unreachable']]) };
    const rows = pinRows(p, facts, 'simulator');
    expect(rows[0]).toMatchObject({ stale: true, why: 'the process is gone' });
    expect(rows[1]).toMatchObject({ stale: false, why: 'cannot ask its node: node_unreachable' });
  });

  it('a pid pinned in another mode is stale even before the backend says so', () => {
    const p = pinPid(NO_PINS, 'node-1/4', 'simulator');
    expect(pinRows(p, NO_FACTS, 'prod')[0].stale).toBe(true);
    expect(pinRows(p, NO_FACTS, 'simulator')[0].stale).toBe(false);
  });

  it('resolveNames changes only what moved', () => {
    const p = pinName(pinName(NO_PINS, 'web', 'node-2/7'), 'db');
    expect(resolveNames(p, { web: 'node-2/7' })).toBe(p);
    const q = resolveNames(p, { web: null, db: 'node-1/1', other: 'x/1' });
    expect(q.byName).toEqual({ db: 'node-1/1' });
  });
});
