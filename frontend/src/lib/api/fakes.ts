// Test doubles for the API module: a routed fetch, an EventSource and a
// Wails runtime. Only tests import this file.

import type { EventSourceLike, WailsRuntime } from './events';

/** A recorded request. */
export interface Recorded {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

/** A route answer: status and JSON body (or a raw string), or a thrown error. */
export type Answer = { status?: number; json?: unknown; text?: string } | Error;

/**
 * fakeFetch answers requests from a handler and records them. The handler
 * gets the method and the path with query ("/api/v1/processes?limit=2").
 */
export function fakeFetch(handler: (method: string, pathAndQuery: string, body: unknown) => Answer | Promise<Answer>) {
  const calls: Recorded[] = [];
  const fetch = async (input: string, init?: RequestInit): Promise<Response> => {
    const method = init?.method ?? 'GET';
    const headers = (init?.headers ?? {}) as Record<string, string>;
    const body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
    calls.push({ method, url: input, headers, body });
    const u = new URL(input, 'http://x');
    const a = await handler(method, u.pathname + u.search, body);
    if (a instanceof Error) throw a;
    const text = a.text ?? (a.json === undefined ? '' : JSON.stringify(a.json));
    return new Response(text, { status: a.status ?? 200, headers: { 'Content-Type': 'application/json' } });
  };
  return { fetch, calls };
}

/** FakeEventSource is an EventSource a test drives by hand. */
export class FakeEventSource implements EventSourceLike {
  static instances: FakeEventSource[] = [];
  readyState = 0;
  onopen: ((ev: Event) => unknown) | null = null;
  onerror: ((ev: Event) => unknown) | null = null;
  listeners = new Map<string, Set<(ev: MessageEvent) => void>>();
  closed = false;

  constructor(readonly url: string) {
    FakeEventSource.instances.push(this);
  }

  addEventListener(type: string, fn: (ev: MessageEvent) => void): void {
    const s = this.listeners.get(type) ?? new Set();
    s.add(fn);
    this.listeners.set(type, s);
  }

  removeEventListener(type: string, fn: (ev: MessageEvent) => void): void {
    this.listeners.get(type)?.delete(fn);
  }

  close(): void {
    this.closed = true;
    this.readyState = 2;
  }

  /** open simulates the connection opening. */
  open(): void {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }

  /** emit simulates a server event. */
  emit(type: string, data: unknown, id = ''): void {
    const ev = new MessageEvent(type, { data: typeof data === 'string' ? data : JSON.stringify(data), lastEventId: id });
    for (const fn of [...(this.listeners.get(type) ?? [])]) fn(ev);
  }

  /** fail simulates an error; closed=true means the browser gave up. */
  fail(closed: boolean): void {
    this.readyState = closed ? 2 : 0;
    this.onerror?.(new Event('error'));
  }

  listenerCount(): number {
    let n = 0;
    for (const s of this.listeners.values()) n += s.size;
    return n;
  }
}

/** fakeRuntime is a Wails runtime whose events a test emits. */
export function fakeRuntime(): WailsRuntime & { emit(name: string, ...data: unknown[]): void; count(name: string): number } {
  const subs = new Map<string, Set<(...d: unknown[]) => void>>();
  return {
    EventsOn(name, cb) {
      const s = subs.get(name) ?? new Set();
      s.add(cb);
      subs.set(name, s);
      return () => s.delete(cb);
    },
    emit(name, ...data) {
      for (const cb of [...(subs.get(name) ?? [])]) cb(...data);
    },
    count(name) {
      return subs.get(name)?.size ?? 0;
    },
  };
}
