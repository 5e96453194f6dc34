import { describe, expect, it } from 'vitest';
import { FakeTimers } from '../logic/fakeTimers';
import { ProcessesStore } from './processes.svelte';
import { deferred, flush, testApi } from './testkit';
import type { Answer } from '../api/fakes';

const proc = (i: number) => ({ pid: `node-1/${i}`, node: 'node-1', behavior: 'echo', status: 'waiting', mailbox: 0, messages_in: 0, messages_out: 0 });

/** A backend of `total` processes paged by an integer cursor. */
function pagedBackend(total: number) {
  return (_m: string, path: string): Answer => {
    const u = new URL(path, 'http://x');
    const limit = Number(u.searchParams.get('limit') ?? 100);
    const from = Number(u.searchParams.get('cursor') ?? 0);
    const n = Math.min(limit, total - from);
    const processes = Array.from({ length: n }, (_, k) => proc(from + k));
    return { json: { processes, total, next_cursor: from + n < total ? String(from + n) : '' } };
  };
}

describe('ProcessesStore', () => {
  it('loads the first page and more on demand by cursor', async () => {
    const api = testApi(pagedBackend(1000));
    const s = new ProcessesStore(api.client, api.events, { pageSize: 100 });
    await s.reload();
    expect(s.rows).toHaveLength(100);
    expect(s.total).toBe(1000);
    expect(s.hasMore).toBe(true);
    await s.ensureLoaded(150);
    expect(s.rows).toHaveLength(200);
    await s.ensureLoaded(950);
    expect(s.rows).toHaveLength(1000);
    expect(s.hasMore).toBe(false);
    expect(s.rows[999].pid).toBe('node-1/999');
    expect(api.calls.map((c) => c.url)).toEqual([
      '/api/v1/processes?limit=100',
      '/api/v1/processes?limit=100&cursor=100',
      '/api/v1/processes?limit=800&cursor=200',
    ]);
  });

  it('sends filters and sort to the server', async () => {
    const api = testApi(pagedBackend(10));
    const s = new ProcessesStore(api.client, api.events);
    await s.setFilter('behavior', 'echo');
    await s.toggleSort('mailbox');
    expect(s.sort).toEqual({ field: 'mailbox', desc: true });
    expect(api.calls.at(-1)!.url).toBe('/api/v1/processes?behavior=echo&sort=mailbox&desc=true&limit=200');
  });

  it('does not send a filter it knows is invalid', async () => {
    const api = testApi(pagedBackend(10));
    const s = new ProcessesStore(api.client, api.events);
    await s.setFilter('label', 'nokey');
    expect(api.calls).toHaveLength(0);
    expect(s.problems.label).toContain('key=value');
  });

  it('applies only the newest query when answers cross', async () => {
    const slow = deferred<Answer>();
    const api = testApi((_m, path) => (path.includes('name=old') ? slow.promise : { json: { processes: [proc(2)], total: 1 } }));
    const s = new ProcessesStore(api.client, api.events);
    const first = s.setFilter('name', 'old');
    await s.setFilter('name', 'new');
    slow.resolve({ json: { processes: [proc(1)], total: 1 } });
    await first;
    expect(s.rows.map((r) => r.pid)).toEqual(['node-1/2']);
  });

  it('keeps the error with its remediation and the rows', async () => {
    let fail = false;
    const api = testApi(() =>
      fail
        ? { status: 502, json: { error: { code: 'node_unreachable', message: 'x', remediation: 'do y' } } }
        : { json: { processes: [proc(1)], total: 1 } },
    );
    const s = new ProcessesStore(api.client, api.events);
    await s.reload();
    fail = true;
    await s.reload();
    expect(s.error?.remediation).toBe('do y');
    expect(s.rows).toHaveLength(1);
  });

  it('drops exited processes at once and refreshes while live', async () => {
    const timers = new FakeTimers();
    const api = testApi(pagedBackend(5));
    const s = new ProcessesStore(api.client, api.events, { timers, liveMs: 1000 });
    await s.reload();
    const stop = s.start();
    api.emit('process.exits', { exits: [{ pid: 'node-1/1' }, { pid: 'node-1/3' }], dropped: 0 });
    expect(s.rows.map((r) => r.pid)).toEqual(['node-1/0', 'node-1/2', 'node-1/4']);
    expect(s.total).toBe(3);
    await flush();
    expect(api.calls).toHaveLength(2); // the leading refresh
    api.emit('process.exits', { exits: [] });
    api.emit('process.exits', { exits: [] });
    await flush();
    expect(api.calls).toHaveLength(2);
    timers.advance(1000);
    await flush();
    expect(api.calls).toHaveLength(3);
    s.setLive(false);
    api.emit('process.exits', { exits: [] });
    timers.advance(5000);
    await flush();
    expect(api.calls).toHaveLength(3);
    stop();
  });

  it('kill deletes and drops the row', async () => {
    const api = testApi((m, path) => (m === 'DELETE' ? { json: { killed: true } } : pagedBackend(3)(m, path)));
    const s = new ProcessesStore(api.client, api.events);
    await s.reload();
    await s.kill('node-1/1');
    expect(api.calls.at(-1)).toMatchObject({ method: 'DELETE', url: '/api/v1/processes/node-1%2F1' });
    expect(s.rows.map((r) => r.pid)).toEqual(['node-1/0', 'node-1/2']);
  });
});
