import { describe, expect, it } from 'vitest';
import { canonical, clampPanel, defaultUI, uiFromWire, uiKey, uiToWire } from './sessionUI';

const VIEWS = ['topology', 'processes', 'traces'];

describe('session UI mapping', () => {
  it('restores filters, sort, pins, panel sizes and open traces', () => {
    const ui = uiFromWire(
      {
        view: 'processes',
        selection: 'node-1/4',
        filters: { behavior: 'echo', status: 'waiting', 'health.node': 'node-2' },
        sort: 'mailbox',
        desc: true,
        pins: { processes: ['node-1/4'], names: ['web'], origins: { 'node-1/4': 'simulator' } },
        panel_sizes: { 'processes.pins': 220 },
        open_traces: ['t1'],
      },
      VIEWS,
    );
    expect(ui.view).toBe('processes');
    expect(ui.filters).toEqual({ node: '', behavior: 'echo', name: '', status: 'waiting', label: '' });
    expect(ui.otherFilters).toEqual({ 'health.node': 'node-2' });
    expect(ui.sort).toEqual({ field: 'mailbox', desc: true });
    expect(ui.pins.processes).toEqual(['node-1/4']);
    expect(ui.pins.names).toEqual(['web']);
    expect(ui.panelSizes).toEqual({ 'processes.pins': 220 });
    expect(ui.openTraces).toEqual(['t1']);
  });

  it('falls back on what the UI does not have', () => {
    const ui = uiFromWire({ view: 'gone', sort: 'bogus', desc: true, pins: {} }, VIEWS);
    expect(ui.view).toBe('topology');
    expect(ui.sort).toEqual({ field: 'pid', desc: false });
    expect(uiFromWire(undefined, VIEWS)).toEqual(defaultUI());
  });

  it('writes back what it read (round trip) and leaves out the defaults', () => {
    const wire = {
      view: 'processes',
      selection: 'node-1/4',
      filters: { behavior: 'echo', 'health.node': 'node-2' },
      sort: 'mailbox',
      desc: true,
      pins: { processes: ['node-1/4'], origins: { 'node-1/4': 'simulator' } },
      panel_sizes: { 'processes.pins': 220 },
      open_traces: ['t1'],
    };
    expect(uiToWire(uiFromWire(wire, VIEWS))).toEqual(wire);
    expect(uiToWire(defaultUI())).toEqual({ view: 'topology', pins: {} });
  });

  it('trims filters and compares states canonically', () => {
    const ui = defaultUI();
    ui.filters = { ...ui.filters, name: '  web ' };
    expect(uiToWire(ui).filters).toEqual({ name: 'web' });
    expect(canonical({ b: 1, a: { d: 2, c: 3 } })).toBe('{"a":{"c":3,"d":2},"b":1}');
    expect(uiKey({ view: 'x', pins: {} })).toBe(uiKey({ pins: { processes: [] }, view: 'x', filters: {} }));
    expect(uiKey({ view: 'x', pins: {} })).not.toBe(uiKey({ view: 'y', pins: {} }));
  });

  it('clampPanel', () => {
    expect(clampPanel(10, 60, 600)).toBe(60);
    expect(clampPanel(900, 60, 600)).toBe(600);
    expect(clampPanel(NaN, 60, 600)).toBe(60);
    expect(clampPanel(123.4, 60, 600)).toBe(123);
  });
});
