import { describe, expect, it } from 'vitest';
import { ApiClient, CONFIRM_HEADER, encodeQuery, unwrapResult } from './client';
import { ApiError } from './errors';
import { fakeFetch } from './fakes';

const envelope = (code: string, message: string, extra: Record<string, unknown> = {}) => ({
  error: { code, message, ...extra },
});

describe('ApiClient', () => {
  it('sends the bearer token and decodes JSON', async () => {
    const f = fakeFetch(() => ({ json: { nodes: [{ name: 'node-1', role: 'worker', state: 'alive' }] } }));
    const c = new ApiClient({ token: 'T0K', fetch: f.fetch });
    const nodes = await c.nodes();
    expect(nodes.map((n) => n.name)).toEqual(['node-1']);
    expect(f.calls[0].url).toBe('/api/v1/nodes');
    expect(f.calls[0].headers['Authorization']).toBe('Bearer T0K');
  });

  it('sends no Authorization without a token', async () => {
    const f = fakeFetch(() => ({ json: [] }));
    await new ApiClient({ fetch: f.fetch }).nodes();
    expect(f.calls[0].headers['Authorization']).toBeUndefined();
  });

  it('runOperation posts the params and unwraps {result}', async () => {
    const f = fakeFetch((m, p, body) => ({ json: { operation: 'send', result: { sent: true, echo: body }, elapsed_ms: 0.3 } }));
    const c = new ApiClient({ fetch: f.fetch });
    const r = await c.runOperation('send', { pid: 'n/1', kind: 'ping' });
    expect(r).toEqual({ sent: true, echo: { pid: 'n/1', kind: 'ping' } });
    expect(f.calls[0]).toMatchObject({ method: 'POST', url: '/api/v1/operations/send' });
    expect(f.calls[0].headers[CONFIRM_HEADER]).toBeUndefined();
  });

  it('confirms destructive runs with the header only', async () => {
    const f = fakeFetch(() => ({ json: { result: { killed: true } } }));
    await new ApiClient({ fetch: f.fetch }).runOperation('kill_process', { pid: 'n/1' }, { confirm: true });
    expect(f.calls[0].headers[CONFIRM_HEADER]).toBe('true');
    expect(f.calls[0].url).toBe('/api/v1/operations/kill_process');
  });

  it('rejects with the error envelope as an ApiError', async () => {
    const f = fakeFetch(() => ({
      status: 502,
      json: envelope('node_unreachable', 'node node-3 is unreachable', {
        details: { node: 'node-3', state: 'dead' },
        remediation: 'restart it with `clusterlab op run node_restart node=node-3 --yes`',
      }),
    }));
    const err = (await new ApiClient({ fetch: f.fetch }).runOperation('node_info', { node: 'node-3' }).catch((e) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: 'node_unreachable', status: 502, details: { node: 'node-3', state: 'dead' } });
    expect(err.remediation).toContain('node_restart');
  });

  it('reads invalid_params problems', async () => {
    const f = fakeFetch(() => ({
      status: 400,
      json: envelope('invalid_params', 'invalid parameters for x', { details: { params: [{ param: 'limit', message: 'too big' }, 7] } }),
    }));
    const r = await new ApiClient({ fetch: f.fetch }).tryOperation('x', { limit: 1e9 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.paramProblems()).toEqual([{ param: 'limit', message: 'too big' }]);
  });

  it.each([
    ['a network failure', new TypeError('Failed to fetch'), 'network', 0],
    ['a non-JSON 500', { status: 500, text: 'boom' }, 'internal', 500],
    ['a 401 without envelope', { status: 401, text: '' }, 'unauthorized', 401],
    ['a 200 that is not JSON', { status: 200, text: '<html>' }, 'bad_response', 200],
  ] as const)('turns %s into an ApiError', async (_name, answer, code, status) => {
    const f = fakeFetch(() => answer as never);
    const err = (await new ApiClient({ fetch: f.fetch }).catalog().catch((e) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.code).toBe(code);
    expect(err.status).toBe(status);
    if (code === 'network' || code === 'unauthorized') expect(err.remediation).not.toBe('');
  });

  it('processes sends the query and reads the page', async () => {
    const f = fakeFetch(() => ({
      json: {
        processes: [{ pid: 'node-1/3', node: 'node-1', behavior: 'echo', status: 'waiting', mailbox: 0, messages_in: 1, messages_out: 2 }, { bogus: 1 }],
        total: 41,
        next_cursor: 'abc',
        missing: [{ node: 'node-4', code: 'node_unreachable', message: 'x' }],
      },
    }));
    const page = await new ApiClient({ fetch: f.fetch }).processes({ node: 'node-1', sort: 'mailbox', desc: true, limit: 2 });
    expect(f.calls[0].url).toBe('/api/v1/processes?node=node-1&sort=mailbox&desc=true&limit=2');
    expect(page.processes).toHaveLength(1);
    expect(page).toMatchObject({ total: 41, next_cursor: 'abc', missing: [{ node: 'node-4' }] });
  });

  it('process and kill escape the pid', async () => {
    const f = fakeFetch(() => ({ json: { killed: true } }));
    const c = new ApiClient({ fetch: f.fetch });
    await c.killProcess('node-1/7', 'test');
    expect(f.calls[0]).toMatchObject({ method: 'DELETE', url: '/api/v1/processes/node-1%2F7?reason=test' });
  });

  it('onError sees every failure', async () => {
    const seen: string[] = [];
    const f = fakeFetch(() => ({ status: 404, json: envelope('unknown_operation', 'no') }));
    await new ApiClient({ fetch: f.fetch, onError: (e) => seen.push(e.code) }).runOperation('nope').catch(() => {});
    expect(seen).toEqual(['unknown_operation']);
  });
});

describe('encodeQuery / unwrapResult', () => {
  it('encodes flat values, skipping empty ones', () => {
    expect(encodeQuery({ a: 'x y', b: '', c: undefined, d: 0, e: false, f: ['1', '2'], g: { k: 1 } })).toBe(
      'a=x+y&d=0&e=false&f=1&f=2&g=%7B%22k%22%3A1%7D',
    );
    expect(encodeQuery()).toBe('');
  });
  it('unwraps run results but not results that merely have a result field', () => {
    expect(unwrapResult({ operation: 'x', result: 5, elapsed_ms: 1 })).toBe(5);
    expect(unwrapResult({ result: 5, other: 1 })).toEqual({ result: 5, other: 1 });
    expect(unwrapResult([1])).toEqual([1]);
  });
});
