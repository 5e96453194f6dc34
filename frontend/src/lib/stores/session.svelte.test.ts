import { describe, expect, it } from 'vitest';
import { flushSync } from 'svelte';
import { FakeTimers } from '../logic/fakeTimers';
import { PinsStore } from './pins.svelte';
import { ProcessesStore } from './processes.svelte';
import { SessionStore, type SessionHost } from './session.svelte';
import { Toasts } from './toasts.svelte';
import { flush, testApi } from './testkit';
import type { Answer } from '../api/fakes';

const VIEWS = ['topology', 'processes', 'traces'];

function sessionInfo(over: Record<string, unknown> = {}, ui: Record<string, unknown> = {}) {
  return {
    project: 'demo',
    data_dir: '/tmp/d',
    mode: 'simulator',
    simulated: true,
    session: {
      mode: 'simulator',
      simulator: { nodes: 5, seed: 1 },
      connection_profiles: [{ name: 'prod', seeds: ['127.0.0.2:7946'], key_saved: false }],
      ui: {
        view: 'processes',
        selection: 'node-2',
        filters: { behavior: 'echo' },
        sort: 'mailbox',
        desc: true,
        pins: { processes: ['node-1/4'], names: ['web'], origins: { 'node-1/4': 'simulator' } },
        panel_sizes: { 'processes.pins': 240 },
        ...ui,
      },
      recent_clusters: [{ profile: 'prod', seeds: ['127.0.0.2:7946'] }],
    },
    recording: false,
    ...over,
  };
}

const proc = (pid: string) => ({ pid, node: pid.split('/')[0], behavior: 'echo', status: 'waiting', mailbox: 0, messages_in: 0, messages_out: 0 });

/** A fake backend of the session operations; `ops` overrides answers per operation. */
function setup(ops: Record<string, (body: Record<string, unknown>) => Answer> = {}) {
  const saves: Record<string, unknown>[] = [];
  const runs: { name: string; body: Record<string, unknown> }[] = [];
  const api = testApi((method, path, body) => {
    const m = /^\/api\/v1\/operations\/(\w+)/.exec(path);
    if (m) {
      const name = m[1];
      const b = (body ?? {}) as Record<string, unknown>;
      runs.push({ name, body: b });
      if (ops[name]) return ops[name](b);
      switch (name) {
        case 'session_get':
          return { json: { result: sessionInfo() } };
        case 'session_save_ui':
          saves.push(b.ui as Record<string, unknown>);
          return { json: { result: { ok: true } } };
        case 'registry_lookup':
          return b.name === 'web' ? { json: { result: { name: 'web', pid: 'node-2/7', node: 'node-2' } } } : { status: 404, json: { error: { code: 'not_found', message: 'no' } } };
        default:
          return { status: 404, json: { error: { code: 'unknown_operation', message: `no ${name}` } } };
      }
    }
    const p = /^\/api\/v1\/processes\/(.+)$/.exec(path);
    if (p) return { json: { result: proc(decodeURIComponent(p[1])) } };
    if (path.startsWith('/api/v1/processes')) return { json: { processes: [proc('node-1/1')], total: 1 } };
    return { status: 404, json: { error: { code: 'not_found', message: path } } };
  });
  const timers = new FakeTimers();
  const toasts = new Toasts(timers);
  const processes = new ProcessesStore(api.client, api.events, { timers });
  let session: SessionStore;
  const pins = new PinsStore(api.client, api.events, { mode: () => session?.mode ?? '', timers });
  const state = { view: 'topology', selection: '', changed: 0, explicit: false };
  const host: SessionHost = {
    views: VIEWS,
    view: () => state.view,
    setView: (v) => (state.view = v),
    selection: () => state.selection,
    select: (s) => (state.selection = s),
    backendChanged: () => state.changed++,
    explicitView: () => state.explicit,
  };
  session = new SessionStore(api.client, api.events, toasts, processes, pins, host, { timers, now: () => 1_000_000 });
  return { api, timers, toasts, processes, pins, session, state, saves, runs };
}

describe('SessionStore', () => {
  it('restores the saved UI state on launch and saves nothing back', async () => {
    const t = setup();
    const stop = t.session.start();
    await flush();
    flushSync();
    expect(t.session.restored).toBe(true);
    expect(t.session.project).toBe('demo');
    expect(t.state.view).toBe('processes');
    expect(t.state.selection).toBe('node-2');
    expect(t.processes.filters.behavior).toBe('echo');
    expect(t.processes.sort).toEqual({ field: 'mailbox', desc: true });
    expect(t.pins.pins.processes).toEqual(['node-1/4']);
    expect(t.pins.pins.names).toEqual(['web']);
    expect(t.session.panelSize('processes.pins', 100)).toBe(240);
    await flush();
    // The name was looked up (and the pins now know where it points).
    expect(t.pins.pins.byName).toEqual({ web: 'node-2/7' });
    expect(t.pins.rows.map((r) => [r.key, r.stale])).toEqual([
      ['pid:node-1/4', false],
      ['name:web', false],
    ]);
    stop();
  });

  it('keeps the view the address names at launch', async () => {
    const t = setup();
    t.state.explicit = true;
    t.session.start();
    await flush();
    expect(t.state.view).toBe('topology');
    expect(t.processes.filters.behavior).toBe('echo');
  });

  it('saves changes debounced, once, with everything the session keeps', async () => {
    const t = setup();
    const stop = t.session.start();
    await flush();
    flushSync();
    await flush();
    flushSync();
    t.timers.advance(1000);
    await flush();
    const before = t.saves.length; // the resolved name pin may be saved once
    void t.processes.setFilter('status', 'waiting');
    flushSync();
    t.pins.pinPid('node-3/3');
    flushSync();
    t.session.setPanelSize('processes.pins', 300);
    flushSync();
    t.timers.advance(499);
    await flush();
    expect(t.saves.length).toBe(before);
    t.timers.advance(1);
    await flush();
    expect(t.saves.length).toBe(before + 1);
    const ui = t.saves.at(-1)!;
    expect(ui).toMatchObject({
      view: 'processes',
      filters: { behavior: 'echo', status: 'waiting' },
      sort: 'mailbox',
      desc: true,
      panel_sizes: { 'processes.pins': 300 },
    });
    expect((ui.pins as { processes: string[] }).processes).toEqual(['node-1/4', 'node-3/3', 'node-2/7']);
    expect((ui.pins as { origins: Record<string, string> }).origins).toEqual({ 'node-1/4': 'simulator', 'node-3/3': 'simulator' });
    stop();
  });

  it('saves nothing before the session is restored, and nothing without a session store', async () => {
    const t = setup({ session_get: () => ({ status: 422, json: { error: { code: 'unprocessable', message: 'no session store', remediation: 'run clusterlab serve' } } }) });
    t.session.start();
    await flush();
    void t.processes.setFilter('status', 'waiting');
    flushSync();
    t.timers.advance(2000);
    await flush();
    expect(t.session.available).toBe(false);
    expect(t.session.restored).toBe(false);
    expect(t.saves).toEqual([]);
    expect(t.toasts.items).toEqual([]);
  });

  it('follows a mode switch from the session event: new pins, and the views reload', async () => {
    const t = setup();
    t.session.start();
    await flush();
    flushSync();
    expect(t.state.changed).toBe(0);
    t.api.emit(
      'session',
      sessionInfo(
        { mode: 'prod', simulated: false },
        { selection: '', pins: { processes: ['node-1/4', 'agent-1/2'], names: ['web'], by_name: { web: 'agent-1/2' }, stale: ['node-1/4'], origins: { 'node-1/4': 'simulator' } } },
      ),
    );
    await flush();
    expect(t.session.mode).toBe('prod');
    expect(t.session.connected).toBe(true);
    expect(t.session.simulated).toBe(false);
    expect(t.state.changed).toBe(1);
    expect(t.state.selection).toBe('');
    expect(t.pins.pins.stale).toEqual(['node-1/4']);
    expect(t.pins.rows.find((r) => r.key === 'pid:node-1/4')?.stale).toBe(true);
    // Filters stay as they were (the event's ui has the same ones).
    expect(t.processes.filters.behavior).toBe('echo');
  });

  it('switches project and restores its state', async () => {
    const t = setup({
      project_switch: (b) => ({ json: { result: sessionInfo({ project: String(b.name) }, { view: 'traces', filters: { name: 'db' }, sort: '', desc: false, pins: {} }) } }),
      projects_list: () => ({ json: { result: { current: 'other', projects: [{ name: 'demo' }, { name: 'other' }] } } }),
    });
    t.session.start();
    await flush();
    flushSync();
    expect(await t.session.switchProject('other')).toBe(true);
    await flush();
    expect(t.session.project).toBe('other');
    expect(t.state.view).toBe('traces');
    expect(t.processes.filters).toMatchObject({ behavior: '', name: 'db' });
    expect(t.processes.sort).toEqual({ field: 'pid', desc: false });
    expect(t.pins.count).toBe(0);
    expect(t.state.changed).toBe(1);
    expect(t.session.projects?.projects.map((p) => p.name)).toEqual(['demo', 'other']);
  });

  it('flushes a waiting save before switching', async () => {
    const t = setup({ mode_switch: () => ({ json: { result: sessionInfo({ mode: 'prod', simulated: false }) } }) });
    t.session.start();
    await flush();
    flushSync();
    void t.processes.setFilter('node', 'node-4');
    flushSync();
    const err = await t.session.switchMode('prod');
    expect(err).toBeNull();
    const names = t.runs.map((r) => r.name);
    expect(names.lastIndexOf('session_save_ui')).toBeLessThan(names.lastIndexOf('mode_switch'));
  });

  it('a failed join stays in the dialog with which way it failed; the app keeps its mode', async () => {
    const t = setup({
      cluster_connect: () => ({
        status: 422,
        json: { error: { code: 'unprocessable', message: 'joining 127.0.0.2:7946: cluster: gossip key mismatch', details: { reason: 'key_mismatch' }, remediation: 'use the key the agents use' } },
      }),
    });
    t.session.start();
    await flush();
    t.session.openConnect();
    expect(await t.session.connect({ seeds: ['127.0.0.2:7946'] })).toBe(false);
    expect(t.session.dialog?.failure).toBe('key');
    expect(t.session.dialog?.error?.remediation).toBe('use the key the agents use');
    expect(t.session.mode).toBe('simulator');
    expect(t.state.changed).toBe(0);
    expect(t.session.busy).toBe('');
  });

  it('a successful join closes the dialog and reloads the views', async () => {
    const t = setup({
      cluster_connect: () => ({ json: { result: sessionInfo({ mode: '127.0.0.2:7946', simulated: false, connection: { name: '127.0.0.2:7946', seeds: ['127.0.0.2:7946'], saved: false } }) } }),
      cluster_disconnect: () => ({ json: { result: sessionInfo() } }),
    });
    t.session.start();
    await flush();
    t.session.openConnect();
    expect(await t.session.connect({ seeds: ['127.0.0.2:7946'] })).toBe(true);
    expect(t.session.dialog).toBeNull();
    expect(t.session.connected).toBe(true);
    expect(t.state.changed).toBe(1);
    expect(await t.session.disconnect()).toBe(true);
    expect(t.session.connected).toBe(false);
    expect(t.state.changed).toBe(2);
  });

  it('one-click connect to a recent cluster uses its saved profile, or opens the dialog', async () => {
    const t = setup({
      mode_switch: () => ({ status: 422, json: { error: { code: 'unprocessable', message: 'gossip key mismatch', details: { reason: 'key_mismatch' } } } }),
    });
    t.session.start();
    await flush();
    await t.session.connectRecent({ profile: 'prod', seeds: ['127.0.0.2:7946'] });
    expect(t.runs.at(-1)).toEqual({ name: 'mode_switch', body: { mode: 'prod' } });
    expect(t.session.dialog?.input.seeds).toBe('127.0.0.2:7946');
    expect(t.session.dialog?.failure).toBe('key');
    t.session.closeConnect();
    await t.session.connectRecent({ profile: 'unsaved', seeds: ['10.0.0.1:7946'] });
    expect(t.session.dialog?.input.seeds).toBe('10.0.0.1:7946');
    expect(t.session.dialog?.error).toBeNull();
  });

  it('records: the clock starts, stop keeps the path and YAML', async () => {
    const t = setup({
      record_start: () => ({ json: { result: { recording: true, seed: 1, since: '1970-01-01T00:16:30Z' } } }),
      record_stop: () => ({ json: { result: { path: '/tmp/d/scenarios/demo.yaml', yaml: 'name: demo\nsteps: []\n', warnings: [] } } }),
    });
    t.session.start();
    await flush();
    expect(t.session.recording).toBe(false);
    expect(await t.session.startRecording()).toBe(true);
    expect(t.session.recording).toBe(true);
    expect(t.session.recordingSince).toBe(990_000);
    const r = await t.session.stopRecording();
    expect(r?.path).toBe('/tmp/d/scenarios/demo.yaml');
    expect(t.session.recordResult?.yaml).toContain('steps');
    expect(t.session.recording).toBe(false);
    expect(t.session.recordingSince).toBeNull();
  });

  it('picks up a recording started elsewhere from the event', async () => {
    const t = setup();
    t.session.start();
    await flush();
    t.api.emit('session', sessionInfo({ recording: true, recording_since: '1970-01-01T00:16:00Z' }));
    expect(t.session.recording).toBe(true);
    expect(t.session.recordingSince).toBe(960_000);
    expect(t.state.changed).toBe(0);
  });

  it('lists the history newest first', async () => {
    const t = setup({
      history_list: () => ({
        json: {
          result: {
            records: [
              { id: 2, time: '2026-01-01T00:00:02Z', operation: 'node_crash', params: { node: 'node-2' }, ok: true },
              { id: 1, time: '2026-01-01T00:00:01Z', operation: 'spawn', params: {}, ok: true },
            ],
          },
        },
      }),
    });
    t.session.start();
    await flush();
    await t.session.loadHistory();
    expect(t.session.history.map((r) => r.operation)).toEqual(['node_crash', 'spawn']);
    expect(t.runs.at(-1)).toEqual({ name: 'history_list', body: { limit: 100 } });
  });

  it('reopens a restored open trace when the backend still has it, and follows the address', async () => {
    const t = setup({
      session_get: () => ({ json: { result: sessionInfo({}, { view: 'traces', open_traces: ['tr-7'] }) } }),
      trace_list: () => ({ json: { result: { traces: [{ id: 'tr-7' }] } } }),
    });
    const opened: string[] = [];
    let hash = '#/traces';
    const listeners = new Set<() => void>();
    // A host with an address: rebuild the store around it.
    const s2 = new SessionStore(t.api.client, t.api.events, t.toasts, t.processes, t.pins, {
      views: VIEWS,
      view: () => t.state.view,
      setView: (v) => (t.state.view = v),
      selection: () => '',
      select: () => {},
      backendChanged: () => {},
      openTrace: (id) => {
        opened.push(id);
        hash = `#/traces/${id}`;
      },
      currentTrace: () => (hash.startsWith('#/traces') ? hash.slice('#/traces/'.length) : null),
      onLocationChange: (fn) => {
        listeners.add(fn);
        return () => listeners.delete(fn);
      },
    }, { timers: t.timers });
    s2.start();
    await flush();
    expect(t.state.view).toBe('traces');
    expect(opened).toEqual(['tr-7']);
    expect(s2.openTraces).toEqual(['tr-7']);
    hash = '#/traces/tr-9';
    for (const fn of listeners) fn();
    expect(s2.openTraces).toEqual(['tr-9']);
    hash = '#/processes';
    for (const fn of listeners) fn();
    expect(s2.openTraces).toEqual(['tr-9']);
    t.timers.advance(600);
    await flush();
    expect(t.saves.at(-1)?.open_traces).toEqual(['tr-9']);
  });

  it('does not reopen a trace the backend no longer has', async () => {
    const t = setup({
      session_get: () => ({ json: { result: sessionInfo({}, { view: 'traces', open_traces: ['gone'] }) } }),
      trace_list: () => ({ json: { result: { traces: [] } } }),
    });
    const opened: string[] = [];
    const s2 = new SessionStore(t.api.client, t.api.events, t.toasts, t.processes, t.pins, {
      views: VIEWS,
      view: () => t.state.view,
      setView: (v) => (t.state.view = v),
      selection: () => '',
      select: () => {},
      backendChanged: () => {},
      openTrace: (id) => opened.push(id),
    }, { timers: t.timers });
    s2.start();
    await flush();
    expect(t.state.view).toBe('traces');
    expect(opened).toEqual([]);
  });
});

describe('SessionStore launch failures', () => {
  it('restores when the session event comes after a failed session_get', async () => {
    let fail = true;
    const t = setup({
      session_get: () => (fail ? { status: 500, json: { error: { code: 'internal', message: 'store busy' } } } : { json: { result: sessionInfo() } }),
    });
    t.session.start();
    await flush();
    expect(t.session.restored).toBe(false);
    expect(t.session.error?.code).toBe('internal');
    expect(t.toasts.items).toHaveLength(1);
    fail = false;
    t.api.emit('session', sessionInfo());
    await flush();
    expect(t.session.restored).toBe(true);
    expect(t.state.view).toBe('processes');
  });
});

describe('ProcessesStore and the session', () => {
  it('restore sets filters and sort, reloads only a loaded table, and reports changes', async () => {
    const t = setup();
    const changes: number[] = [];
    t.processes.onChange(() => changes.push(1));
    await t.processes.restore({ node: '', behavior: 'echo', name: '', status: '', label: '' }, { field: 'mailbox', desc: true });
    expect(t.api.calls.filter((c) => c.url.startsWith('/api/v1/processes'))).toHaveLength(0);
    expect(changes).toHaveLength(1);
    await t.processes.reload();
    await t.processes.restore({ node: '', behavior: 'echo', name: '', status: '', label: '' }, { field: 'mailbox', desc: true });
    expect(changes).toHaveLength(1); // nothing changed
    await t.processes.restore({ node: 'node-2', behavior: '', name: '', status: '', label: '' }, { field: 'pid', desc: false });
    expect(t.api.calls.at(-1)!.url).toBe('/api/v1/processes?node=node-2&limit=200');
    t.processes.select('node-1/1');
    t.processes.select('node-1/1');
    expect(changes).toHaveLength(3);
    expect(t.processes.selected).toBe('node-1/1');
  });
});
