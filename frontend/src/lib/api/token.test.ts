import { describe, expect, it } from 'vitest';
import { TOKEN_KEY, resolveToken } from './token';
import { createApi, READY_EVENT, wailsRuntime } from './index';
import { fakeRuntime } from './fakes';

function memStorage(init: Record<string, string> = {}) {
  const m = new Map(Object.entries(init));
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), m };
}

describe('resolveToken', () => {
  it('takes the URL token, stores it and strips it from the search', () => {
    const s = memStorage();
    expect(resolveToken('?token=abc&x=1', s)).toEqual({ token: 'abc', cleanedSearch: '?x=1' });
    expect(s.m.get(TOKEN_KEY)).toBe('abc');
    expect(resolveToken('?token=abc', memStorage())).toEqual({ token: 'abc', cleanedSearch: '' });
  });
  it('falls back to the stored token', () => {
    expect(resolveToken('', memStorage({ [TOKEN_KEY]: 'old' }))).toEqual({ token: 'old', cleanedSearch: '' });
    expect(resolveToken('?x=1', null)).toEqual({ token: null, cleanedSearch: '?x=1' });
  });
  it('survives a storage that throws', () => {
    const bad = {
      getItem: () => {
        throw new Error('denied');
      },
      setItem: () => {
        throw new Error('denied');
      },
    };
    expect(resolveToken('?token=t', bad).token).toBe('t');
    expect(resolveToken('', bad).token).toBeNull();
  });
});

describe('createApi', () => {
  it('takes the token out of the address bar and uses it for SSE', () => {
    const replaced: string[] = [];
    const urls: string[] = [];
    const api = createApi({
      location: { search: '?token=s3cret', pathname: '/', hash: '#/processes' },
      history: { replaceState: (_d, _u, url) => replaced.push(url ?? '') },
      storage: memStorage(),
      eventSource: (url) => {
        urls.push(url);
        return { readyState: 0, onopen: null, onerror: null, addEventListener() {}, removeEventListener() {}, close() {} };
      },
    });
    expect(replaced).toEqual(['/#/processes']);
    expect(api.client.token).toBe('s3cret');
    expect(api.desktop).toBe(false);
    api.events.subscribe('membership', () => {});
    expect(urls).toEqual(['/api/v1/events?token=s3cret']);
  });
  it('detects the Wails runtime', () => {
    expect(wailsRuntime({})).toBeNull();
    expect(wailsRuntime({ runtime: { EventsOn: 1 } })).toBeNull();
    const rt = fakeRuntime();
    expect(wailsRuntime({ runtime: rt })).toBe(rt);
    expect(createApi({ runtime: rt }).desktop).toBe(true);
  });
  it('ready emits app:ready to the desktop shell only', () => {
    const emitted: string[] = [];
    const rt = { EventsOn: () => () => {}, EventsEmit: (name: string) => emitted.push(name) };
    createApi({ runtime: rt }).ready();
    expect(emitted).toEqual([READY_EVENT]);
    expect(() => createApi({}).ready()).not.toThrow();
    const broken = { EventsOn: () => () => {}, EventsEmit: () => { throw new Error('gone'); } };
    expect(() => createApi({ runtime: broken }).ready()).not.toThrow();
  });
});
