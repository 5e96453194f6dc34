import { describe, expect, it } from 'vitest';
import { normalizeCatalog, paramsFromSchema } from './catalog';

describe('normalizeCatalog', () => {
  it('reads the API catalog with params, flags and load failures', () => {
    const c = normalizeCatalog({
      version: 4,
      simulated: true,
      operations: [
        {
          name: 'kill_process',
          category: 'processes',
          summary: 'Kill one process',
          destructive: true,
          params: [
            { name: 'pid', type: 'pid', required: true },
            { name: 'reason', type: 'string', default: 'killed', min_len: 1, max_len: 256 },
            { name: 'weird', type: 'hologram' },
            { type: 'int' },
          ],
          timeout_ms: 10000,
          source: 'builtin',
        },
        { name: 'broken_one', category: 'broken', summary: 'failed to load', params: [], source: 'x.star', load_error: 'syntax error' },
        { summary: 'no name' },
        7,
      ],
    });
    expect(c.simulated).toBe(true);
    expect(c.version).toBe(4);
    expect(c.operations).toHaveLength(1);
    const op = c.operations[0];
    expect(op).toMatchObject({ name: 'kill_process', destructive: true, simulator_only: false, timeout_ms: 10000 });
    expect(op.params.map((p) => [p.name, p.type])).toEqual([
      ['pid', 'pid'],
      ['reason', 'string'],
      ['weird', 'string'],
    ]);
    expect(op.params[1]).toMatchObject({ default: 'killed', min_len: 1, max_len: 256 });
    expect(c.failures).toEqual([{ name: 'broken_one', source: 'x.star', error: 'syntax error' }]);
  });

  it('accepts a bare list and garbage', () => {
    expect(normalizeCatalog([{ name: 'a', params: [] }]).operations[0].category).toBe('other');
    expect(normalizeCatalog('nope')).toEqual({ operations: [], failures: [], simulated: false, version: undefined });
    expect(normalizeCatalog(null).operations).toEqual([]);
  });

  it('reads params from a JSON schema when the spec list is absent', () => {
    const params = paramsFromSchema({
      type: 'object',
      required: ['groups'],
      properties: {
        groups: { type: 'array', items: { type: 'array', items: { type: 'string', 'x-type': 'node' } }, minItems: 1 },
        limit: { type: 'integer', minimum: 1, maximum: 10, default: 5 },
        wait: { type: 'string', format: 'duration' },
        sort: { type: 'string', enum: ['a', 'b'] },
        name: { type: 'string', pattern: '^(?:[a-z]+)$' },
      },
    });
    expect(params).toEqual([
      expect.objectContaining({ name: 'groups', type: 'list', items: 'list:node', required: true, min_len: 1 }),
      expect.objectContaining({ name: 'limit', type: 'int', min: 1, max: 10, default: 5, required: false }),
      expect.objectContaining({ name: 'wait', type: 'duration' }),
      expect.objectContaining({ name: 'sort', type: 'enum', enum: ['a', 'b'] }),
      expect.objectContaining({ name: 'name', type: 'string', pattern: '[a-z]+' }),
    ]);
  });
});
