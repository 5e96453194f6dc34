import { describe, expect, it } from 'vitest';
import { createApi } from './index';
import { fakeFetch } from './fakes';
import { SOURCE_HEADER } from './source';

describe('the palette client', () => {
  it('says its runs come from the palette; the views do not', async () => {
    const f = fakeFetch(() => ({ json: { result: {} } }));
    const api = createApi({ fetch: f.fetch, storage: null, location: { search: '?token=t', pathname: '/', hash: '' } });
    await api.paletteClient!.runOperation('node_crash', { node: 'node-2' }, { confirm: true });
    await api.client.runOperation('list_processes', {});
    expect(f.calls[0].headers[SOURCE_HEADER]).toBe('palette');
    expect(f.calls[0].headers['X-Clusterlab-Confirm']).toBe('true');
    expect(f.calls[0].headers['Authorization']).toBe('Bearer t');
    expect(f.calls[1].headers[SOURCE_HEADER]).toBeUndefined();
  });
});
