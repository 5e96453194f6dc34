import { describe, expect, it } from 'vitest';
import { FakeTimers } from '../logic/fakeTimers';
import { PinsStore } from './pins.svelte';
import { flush, testApi } from './testkit';

const proc = (pid: string, registered?: string[]) => ({ pid, node: pid.split('/')[0], behavior: 'echo', status: 'waiting', mailbox: 0, messages_in: 0, messages_out: 0, registered });

function setup(live: Set<string>, names: Record<string, string>) {
  const api = testApi((_m, path, body) => {
    if (path === '/api/v1/operations/registry_lookup') {
      const n = String((body as { name?: string }).name);
      return names[n] ? { json: { result: { name: n, pid: names[n] } } } : { status: 404, json: { error: { code: 'not_found', message: `name ${n} is not registered` } } };
    }
    const m = /^\/api\/v1\/processes\/(.+)$/.exec(path);
    if (m) {
      const pid = decodeURIComponent(m[1]);
      if (pid.startsWith('node-9/')) return { status: 502, json: { error: { code: 'node_unreachable', message: 'node-9 is down' } } };
      return live.has(pid) ? { json: { result: proc(pid) } } : { status: 404, json: { error: { code: 'not_found', message: 'no such process' } } };
    }
    return { status: 404, json: {} };
  });
  const timers = new FakeTimers();
  const changes: number[] = [];
  const pins = new PinsStore(api.client, api.events, { mode: () => 'simulator', timers, liveMs: 1000 });
  pins.onChange(() => changes.push(pins.count));
  return { api, timers, pins, changes };
}

describe('PinsStore', () => {
  it('pins from a row without asking, and tells the session', () => {
    const t = setup(new Set(), {});
    t.pins.pinPid('node-1/4', proc('node-1/4'));
    t.pins.pinName('web', proc('node-2/7', ['web']));
    expect(t.pins.isPidPinned('node-1/4')).toBe(true);
    expect(t.pins.isNamePinned('web')).toBe(true);
    expect(t.pins.rows.map((r) => [r.key, r.pid, r.info?.pid])).toEqual([
      ['pid:node-1/4', 'node-1/4', 'node-1/4'],
      ['name:web', 'node-2/7', 'node-2/7'],
    ]);
    expect(t.changes).toEqual([1, 2]);
    expect(t.api.calls).toHaveLength(0);
    t.pins.unpinName('web');
    t.pins.unpinPid('node-1/4');
    expect(t.pins.count).toBe(0);
    expect(t.changes).toEqual([1, 2, 1, 0]);
  });

  it('looks pins up: gone pids and unregistered names are stale, an unreachable node is not', async () => {
    const t = setup(new Set(['node-1/4', 'node-3/1']), { web: 'node-3/1' });
    await t.pins.replace({
      processes: ['node-1/4', 'node-1/5', 'node-9/1'],
      names: ['web', 'db'],
      byName: { db: 'node-1/99' },
      stale: [],
      origins: {},
    });
    const byKey = Object.fromEntries(t.pins.rows.map((r) => [r.key, r]));
    expect(byKey['pid:node-1/4']).toMatchObject({ stale: false });
    expect(byKey['pid:node-1/4'].info?.status).toBe('waiting');
    expect(byKey['pid:node-1/5']).toMatchObject({ stale: true, why: 'the process is gone' });
    expect(byKey['pid:node-9/1'].stale).toBe(false);
    expect(byKey['pid:node-9/1'].why).toContain('node-9 is down');
    expect(byKey['name:web']).toMatchObject({ stale: false, pid: 'node-3/1' });
    expect(byKey['name:db']).toMatchObject({ stale: true });
    // The lookups moved the name pins: the session hears of it.
    expect(t.pins.pins.byName).toEqual({ web: 'node-3/1' });
  });

  it('refreshes on process exits, throttled', async () => {
    const live = new Set(['node-1/4']);
    const t = setup(live, {});
    const stop = t.pins.start();
    t.pins.pinPid('node-1/4', proc('node-1/4'));
    live.delete('node-1/4');
    t.api.emit('process.exits', { exits: [{ pid: 'node-1/4' }] });
    t.api.emit('process.exits', { exits: [{ pid: 'node-2/1' }] });
    await flush();
    expect(t.pins.rows[0]).toMatchObject({ stale: true });
    const n = t.api.calls.length;
    t.timers.advance(1000);
    await flush();
    expect(t.api.calls.length).toBe(n + 1);
    stop();
  });
});
