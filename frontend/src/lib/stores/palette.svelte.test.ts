import { describe, expect, it } from 'vitest';
import type { Catalog } from '../api/types';
import { CatalogStore } from './catalog.svelte';
import { PaletteStore } from './palette.svelte';
import { testApi } from './testkit';

const catalog: Catalog = {
  simulated: true,
  failures: [],
  operations: [
    {
      name: 'list_processes',
      category: 'processes',
      summary: 'List processes',
      params: [
        { name: 'limit', type: 'int', min: 1, max: 10000, default: 100 },
        { name: 'node', type: 'list', items: 'node' },
      ],
    },
    { name: 'kill_process', category: 'processes', summary: 'Kill', destructive: true, params: [{ name: 'pid', type: 'pid', required: true }] },
  ],
};

function setup(handler: Parameters<typeof testApi>[0]) {
  const api = testApi(handler);
  const cat = new CatalogStore(api.client);
  cat.setCatalog(catalog);
  const p = new PaletteStore(api.client, cat, () => ['node-1', 'node-2']);
  return { api, p };
}

describe('PaletteStore', () => {
  it('searches, chooses, validates and runs', async () => {
    const { api, p } = setup(() => ({ json: { operation: 'list_processes', result: { processes: [], total: 0 } } }));
    p.open();
    p.setQuery('list');
    expect(p.matches.map((o) => o.name)).toEqual(['list_processes']);
    p.chooseHighlighted();
    expect(p.stage).toBe('form');
    expect(p.values).toEqual({ limit: '100', node: '' });
    p.setValue('limit', '2');
    await p.submit();
    expect(p.stage).toBe('result');
    expect(p.result).toEqual({ processes: [], total: 0 });
    expect(api.calls[0].body).toEqual({ limit: 2 });
  });

  it('shows a validation error and sends nothing on invalid input', async () => {
    const { api, p } = setup(() => ({ json: {} }));
    p.open('list_processes');
    p.setValue('limit', '0');
    p.setValue('node', 'node-1,node-7');
    await p.submit();
    expect(p.stage).toBe('form');
    expect(p.errors).toEqual({ limit: '0 is below the minimum 1', node: 'element 1: unknown node "node-7" (known: node-1, node-2)' });
    expect(api.calls).toHaveLength(0);
    p.setValue('limit', '5');
    expect(p.errors.limit).toBeUndefined();
  });

  it('asks before a destructive operation and sends the confirmation', async () => {
    const { api, p } = setup(() => ({ json: { result: { killed: true } } }));
    p.open('kill_process', { pid: 'node-1/4' });
    await p.submit();
    expect(p.stage).toBe('confirm');
    expect(api.calls).toHaveLength(0);
    await p.confirm();
    expect(p.stage).toBe('result');
    expect(api.calls[0].headers['X-Clusterlab-Confirm']).toBe('true');
  });

  it('maps the server validation errors onto the fields', async () => {
    const { p } = setup(() => ({
      status: 400,
      json: { error: { code: 'invalid_params', message: 'bad', details: { params: [{ param: 'limit', message: 'server says no' }] } } },
    }));
    p.open('list_processes');
    await p.submit();
    expect(p.stage).toBe('form');
    expect(p.errors).toEqual({ limit: 'server says no' });
    expect(p.error?.code).toBe('invalid_params');
  });

  it('shows other errors with their remediation', async () => {
    const { p } = setup(() => ({ status: 502, json: { error: { code: 'node_unreachable', message: 'gone', remediation: 'restart node-3' } } }));
    p.open('list_processes');
    await p.submit();
    expect(p.stage).toBe('result');
    expect(p.error?.remediation).toBe('restart node-3');
  });

  it('moves the highlight with wrap-around and goes back', () => {
    const { p } = setup(() => ({ json: {} }));
    p.open();
    expect(p.matches).toHaveLength(2);
    p.move(-1);
    expect(p.highlight).toBe(1);
    p.move(1);
    expect(p.highlight).toBe(0);
    p.chooseHighlighted();
    p.back();
    expect(p.stage).toBe('search');
    p.toggle();
    expect(p.isOpen).toBe(false);
  });
});
