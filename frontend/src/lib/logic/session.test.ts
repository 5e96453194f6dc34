import { describe, expect, it } from 'vitest';
import { modeLabel, normalizeHistory, normalizeProjects, normalizeRecordResult, normalizeSessionInfo } from './session';

const info = {
  project: 'shop-3f9a1c2e',
  data_dir: '/tmp/d',
  mode: 'simulator',
  simulated: true,
  observer: 'observer',
  seed: 1,
  connection: null,
  session: {
    mode: 'simulator',
    simulator: { nodes: 5, seed: 1, fault_preset: '' },
    connection_profiles: [{ name: 'prod', seeds: ['10.0.0.5:7946'], label: 'shop', profile: 'lan', key_saved: true, key: 'c2VjcmV0' }],
    ui: {
      view: 'processes',
      selection: 'node-1/4',
      filters: { behavior: 'echo' },
      sort: 'mailbox',
      desc: true,
      pins: { processes: ['node-1/4'], names: ['web'], by_name: { web: 'node-2/7' }, stale: [], origins: { 'node-1/4': 'simulator' } },
      panel_sizes: { 'processes.pins': 200 },
      open_traces: ['t1'],
    },
    recent_clusters: [{ profile: 'prod', seeds: ['10.0.0.5:7946'], last_used: '2026-01-02T03:04:05Z' }],
  },
  recording: true,
  recording_since: '2026-01-02T03:04:05Z',
};

describe('normalizeSessionInfo', () => {
  it('reads session_get as W documents it', () => {
    const s = normalizeSessionInfo(info);
    expect(s.project).toBe('shop-3f9a1c2e');
    expect(s.simulated).toBe(true);
    expect(s.recording).toBe(true);
    expect(s.recording_since).toBe('2026-01-02T03:04:05Z');
    expect(s.connection).toBeNull();
    expect(s.session.ui.filters).toEqual({ behavior: 'echo' });
    expect(s.session.ui.pins.by_name).toEqual({ web: 'node-2/7' });
    expect(s.session.connection_profiles[0]).toEqual({ name: 'prod', seeds: ['10.0.0.5:7946'], label: 'shop', profile: 'lan', key_saved: true });
    // The UI never keeps the key.
    expect(JSON.stringify(s)).not.toContain('c2VjcmV0');
    expect(s.session.recent_clusters[0].profile).toBe('prod');
  });

  it('reads the wrapped result and the event payload alike', () => {
    expect(normalizeSessionInfo({ result: info }).project).toBe('shop-3f9a1c2e');
  });

  it('survives garbage and bounds lists', () => {
    const s = normalizeSessionInfo({ project: 7, session: { ui: { pins: { processes: Array.from({ length: 5000 }, (_, i) => `n/${i}`) }, filters: { a: 1, b: 'x' } } } });
    expect(s.project).toBe('');
    expect(s.mode).toBe('simulator');
    expect(s.simulated).toBe(true);
    expect(s.session.ui.pins.processes).toHaveLength(1000);
    expect(s.session.ui.filters).toEqual({ b: 'x' });
    expect(normalizeSessionInfo(null).session.connection_profiles).toEqual([]);
  });

  it('reads the live connection and the fallback reason', () => {
    const s = normalizeSessionInfo({
      mode: 'prod',
      simulated: false,
      fallback: '',
      connection: { name: 'prod', seeds: ['a:1'], saved: true, key_saved: false },
    });
    expect(s.connection).toEqual({ name: 'prod', seeds: ['a:1'], label: undefined, profile: undefined, saved: true, key_saved: false });
    expect(s.notice).toBeUndefined();
    expect(normalizeSessionInfo({ mode: 'simulator', fallback: 'could not join prod: no seed answered' }).notice).toContain('no seed');
  });
});

describe('the other session answers', () => {
  it('projects_list', () => {
    const p = normalizeProjects({ current: 'a', projects: [{ name: 'a', workdir: '/w/a' }, { name: '' }, 'x'] });
    expect(p).toEqual({ current: 'a', projects: [{ name: 'a', workdir: '/w/a', created: undefined, last_opened: undefined }] });
  });

  it('history_list, newest first', () => {
    const h = normalizeHistory({
      records: [
        { id: 1, time: '2026-01-01T00:00:00Z', operation: 'node_crash', params: { node: 'node-2' }, ok: true, duration_ms: 3 },
        { id: 2, time: '2026-01-01T00:00:05Z', operation: 'kill_process', params: { pid: 'node-1/4' }, ok: false, error: 'no such process', code: 'not_found', source: 'palette' },
        { id: 3, time: 'x' },
      ],
    });
    expect(h.map((r) => r.id)).toEqual([2, 1]);
    expect(h[0]).toMatchObject({ ok: false, code: 'not_found', source: 'palette' });
  });

  it('record_stop', () => {
    expect(normalizeRecordResult({ path: '/d/s.yaml', yaml: 'name: x\n', warnings: ['w'] })).toEqual({ path: '/d/s.yaml', yaml: 'name: x\n', warnings: ['w'] });
    expect(normalizeRecordResult(undefined)).toEqual({ path: '', yaml: '', warnings: [] });
  });

  it('modeLabel', () => {
    expect(modeLabel('simulator')).toBe('simulator');
    expect(modeLabel('')).toBe('simulator');
    expect(modeLabel('prod')).toBe('prod');
  });
});
