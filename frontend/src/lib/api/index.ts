// The one API module: the typed REST client and the live events, wired to
// the page's environment. Components and stores import `Api` (through the
// stores) and never touch fetch, EventSource or window.runtime themselves.

import { ApiClient, type ApiClientOptions } from './client';
import { EventStream, type EventSourceFactory, type WailsRuntime } from './events';
import { resolveToken, type TokenStorage } from './token';
import { withSource } from './source';

export * from './types';
export { ApiError, asApiError } from './errors';
export { ApiClient, encodeQuery, unwrapResult, type OpResult, type RunOptions, type FetchLike } from './client';
export { EventStream, type EventStatus, type EventHandler, type EventSourceLike, type WailsRuntime } from './events';
export { normalizeCatalog } from './catalog';
export { SOURCE_HEADER, withSource } from './source';

/** Api bundles the REST client and the event stream. */
export interface Api {
  client: ApiClient;
  /** The client the command palette runs with: its runs say they come from the palette (so the history keeps them). */
  paletteClient?: ApiClient;
  events: EventStream;
  /** True inside the Wails desktop window. */
  desktop: boolean;
  /**
   * ready tells the desktop shell that the UI is mounted and painted (it
   * logs the time since launch); a no-op in a browser.
   */
  ready(): void;
}

/** The Wails event the page emits once it has rendered (see Api.ready). */
export const READY_EVENT = 'app:ready';

/** What createApi reads from its environment (window in the page). */
export interface ApiEnvironment {
  location?: { search: string; pathname: string; hash: string; origin?: string };
  history?: { replaceState(data: unknown, unused: string, url?: string): void };
  storage?: TokenStorage | null;
  runtime?: WailsRuntime | null;
  fetch?: ApiClientOptions['fetch'];
  eventSource?: EventSourceFactory;
  baseUrl?: string;
}

/** wailsRuntime returns window.runtime when the page runs in the Wails window. */
export function wailsRuntime(w: unknown): WailsRuntime | null {
  const rt = (w as { runtime?: unknown } | undefined)?.runtime as WailsRuntime | undefined;
  return rt && typeof rt.EventsOn === 'function' ? rt : null;
}

/**
 * createApi builds the Api for a page: the token comes from the URL's
 * ?token= (then kept in sessionStorage and taken out of the address bar) or
 * from sessionStorage; events use window.runtime.EventsOn when the Wails
 * runtime is there and SSE (/api/v1/events?token=…) otherwise.
 */
export function createApi(env: ApiEnvironment): Api {
  const { token, cleanedSearch } = resolveToken(env.location?.search ?? '', env.storage ?? null);
  if (env.location && env.history && cleanedSearch !== env.location.search) {
    env.history.replaceState(null, '', `${env.location.pathname}${cleanedSearch}${env.location.hash}`);
  }
  const client = new ApiClient({ baseUrl: env.baseUrl ?? '', token, fetch: env.fetch });
  const baseFetch = env.fetch ?? ((input: string, init?: RequestInit) => globalThis.fetch(input, init));
  const paletteClient = new ApiClient({ baseUrl: env.baseUrl ?? '', token, fetch: withSource(baseFetch, 'palette') });
  const runtime = env.runtime ?? null;
  const events = new EventStream({
    runtime,
    factory: env.eventSource,
    url: (lastEventId) => {
      const q: Record<string, string> = {};
      if (client.token) q.token = client.token;
      if (lastEventId) q.last_event_id = lastEventId;
      return client.url('/events', q);
    },
  });
  return {
    client,
    paletteClient,
    events,
    desktop: !!runtime,
    ready: () => {
      try {
        runtime?.EventsEmit?.(READY_EVENT);
      } catch (err) {
        console.error('clusterlab: cannot signal the desktop shell', err);
      }
    },
  };
}

/** browserApi builds the Api from the real window. */
export function browserApi(): Api {
  let storage: TokenStorage | null = null;
  try {
    storage = window.sessionStorage;
  } catch {
    storage = null;
  }
  return createApi({
    location: window.location,
    history: window.history,
    storage,
    runtime: wailsRuntime(window),
  });
}
