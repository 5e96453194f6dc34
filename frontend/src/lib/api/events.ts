import type { ClusterEvent } from './types';

/** Connection state of the event stream, for the "live" indicator. */
export type EventStatus = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/** What the stream needs from an EventSource (the browser's, or a fake). */
export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((ev: Event) => unknown) | null;
  onerror: ((ev: Event) => unknown) | null;
  addEventListener(type: string, fn: (ev: MessageEvent) => void): void;
  removeEventListener(type: string, fn: (ev: MessageEvent) => void): void;
  close(): void;
}

/** Makes an EventSource for a URL. */
export type EventSourceFactory = (url: string) => EventSourceLike;

/** The part of the Wails runtime (window.runtime) the stream uses. */
export interface WailsRuntime {
  EventsOn(name: string, cb: (...data: unknown[]) => void): (() => void) | void;
  EventsOff?(name: string, ...more: string[]): void;
  EventsEmit?(name: string, ...data: unknown[]): void;
}

/** Handles one event. */
export type EventHandler<T = unknown> = (ev: ClusterEvent<T>) => void;

/** Options of EventStream. */
export interface EventStreamOptions {
  /** Builds the SSE URL; lastEventId is "" on the first connection. */
  url: (lastEventId: string) => string;
  /** Makes EventSources; the browser's EventSource by default. */
  factory?: EventSourceFactory;
  /** The Wails runtime, when the page runs in the desktop window. */
  runtime?: WailsRuntime | null;
  /** Schedules reconnects (setTimeout by default; tests pass a fake). */
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
  /** First and largest reconnect delay (ms). */
  minBackoff?: number;
  maxBackoff?: number;
}

const CLOSED = 2;

/**
 * parseEventData decodes an event's data: JSON when it is JSON, the raw
 * string otherwise. Oversized data (over 4 MiB) is dropped to a marker.
 */
export function parseEventData(data: unknown): unknown {
  if (typeof data !== 'string') return data;
  if (data.length > 4 << 20) return { dropped: true, bytes: data.length };
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}

/**
 * EventStream delivers the backend's live events to subscribers by topic,
 * over Server-Sent Events in a browser or Wails events in the desktop
 * window. It connects on the first subscription, multiplexes one transport
 * listener per topic, reconnects with backoff (resuming from the last event
 * id) and disconnects when the last subscriber leaves. Every subscribe and
 * onStatus returns its unsubscribe.
 */
export class EventStream {
  #opts: Required<Pick<EventStreamOptions, 'minBackoff' | 'maxBackoff'>> & EventStreamOptions;
  #handlers = new Map<string, Set<EventHandler>>();
  #statusHandlers = new Set<(s: EventStatus) => void>();
  #status: EventStatus = 'idle';
  #es: EventSourceLike | null = null;
  #esListeners = new Map<string, (ev: MessageEvent) => void>();
  #wailsOff = new Map<string, () => void>();
  #lastId = '';
  #backoff: number;
  #timer: unknown = null;

  constructor(opts: EventStreamOptions) {
    this.#opts = { minBackoff: 500, maxBackoff: 10_000, ...opts };
    this.#backoff = this.#opts.minBackoff;
  }

  /** The connection state. */
  get status(): EventStatus {
    return this.#status;
  }

  /** The id of the last event received (for resuming). */
  get lastEventId(): string {
    return this.#lastId;
  }

  /** Whether events come from the Wails runtime rather than SSE. */
  get usesWails(): boolean {
    return !!this.#opts.runtime;
  }

  /** subscribe calls fn for every event of topic; it returns the unsubscribe. */
  subscribe<T = unknown>(topic: string, fn: EventHandler<T>): () => void {
    let set = this.#handlers.get(topic);
    if (!set) {
      set = new Set();
      this.#handlers.set(topic, set);
      this.#attach(topic);
    }
    set.add(fn as EventHandler);
    this.#ensureConnected();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const s = this.#handlers.get(topic);
      if (!s) return;
      s.delete(fn as EventHandler);
      if (s.size === 0) {
        this.#handlers.delete(topic);
        this.#detach(topic);
      }
      if (this.#handlers.size === 0) this.#disconnect('idle');
    };
  }

  /** onStatus calls fn with the current state and every change; it returns the unsubscribe. */
  onStatus(fn: (s: EventStatus) => void): () => void {
    this.#statusHandlers.add(fn);
    fn(this.#status);
    return () => {
      this.#statusHandlers.delete(fn);
    };
  }

  /** close drops every subscriber and the connection. */
  close(): void {
    this.#handlers.clear();
    this.#disconnect('closed');
  }

  #setStatus(s: EventStatus): void {
    if (s === this.#status) return;
    this.#status = s;
    for (const fn of [...this.#statusHandlers]) fn(s);
  }

  #dispatch(topic: string, data: unknown, id?: string): void {
    if (id) this.#lastId = id;
    const set = this.#handlers.get(topic);
    if (!set) return;
    const ev: ClusterEvent = { topic, id, data };
    for (const fn of [...set]) {
      try {
        fn(ev);
      } catch (err) {
        console.error(`clusterlab: event handler for ${topic} failed`, err);
      }
    }
  }

  #ensureConnected(): void {
    if (this.#opts.runtime) {
      this.#setStatus('open');
      return;
    }
    if (this.#es || this.#timer !== null) return;
    this.#connect();
  }

  #connect(): void {
    this.#timer = null;
    const factory =
      this.#opts.factory ??
      ((url: string) => new EventSource(url) as unknown as EventSourceLike);
    this.#setStatus(this.#lastId ? 'reconnecting' : 'connecting');
    let es: EventSourceLike;
    try {
      es = factory(this.#opts.url(this.#lastId));
    } catch (err) {
      console.error('clusterlab: cannot open the event stream', err);
      this.#scheduleReconnect();
      return;
    }
    this.#es = es;
    es.onopen = () => {
      this.#backoff = this.#opts.minBackoff;
      this.#setStatus('open');
    };
    es.onerror = () => {
      if (this.#es !== es) return;
      if (es.readyState === CLOSED) {
        // The browser gave up (server gone, 401, ...): reconnect ourselves.
        this.#teardownES();
        this.#scheduleReconnect();
      } else {
        this.#setStatus('reconnecting');
      }
    };
    for (const topic of this.#handlers.keys()) this.#attachES(topic);
    // Servers that send unnamed events carry the topic inside the data.
    this.#attachES('message');
  }

  #scheduleReconnect(): void {
    if (this.#handlers.size === 0) return;
    this.#setStatus('reconnecting');
    const set = this.#opts.setTimer ?? ((fn: () => void, ms: number) => setTimeout(fn, ms));
    const delay = this.#backoff;
    this.#backoff = Math.min(this.#backoff * 2, this.#opts.maxBackoff);
    this.#timer = set(() => this.#connect(), delay);
  }

  #attach(topic: string): void {
    const rt = this.#opts.runtime;
    if (rt) {
      const off = rt.EventsOn(topic, (...args: unknown[]) => {
        this.#dispatch(topic, args.length <= 1 ? parseEventData(args[0]) : args);
      });
      this.#wailsOff.set(topic, typeof off === 'function' ? off : () => rt.EventsOff?.(topic));
      return;
    }
    if (this.#es) this.#attachES(topic);
  }

  #attachES(topic: string): void {
    const es = this.#es;
    if (!es || this.#esListeners.has(topic)) return;
    const fn = (ev: MessageEvent) => {
      const data = parseEventData(ev.data);
      if (topic === 'message') {
        const d = data as { topic?: unknown; data?: unknown } | null;
        if (d && typeof d === 'object' && typeof d.topic === 'string') {
          this.#dispatch(d.topic, 'data' in d ? d.data : d, ev.lastEventId || undefined);
        } else if (ev.lastEventId) {
          this.#lastId = ev.lastEventId;
        }
        return;
      }
      this.#dispatch(topic, data, ev.lastEventId || undefined);
    };
    this.#esListeners.set(topic, fn);
    es.addEventListener(topic, fn);
  }

  #detach(topic: string): void {
    const off = this.#wailsOff.get(topic);
    if (off) {
      this.#wailsOff.delete(topic);
      off();
    }
    const fn = this.#esListeners.get(topic);
    if (fn && this.#es) {
      this.#es.removeEventListener(topic, fn);
      this.#esListeners.delete(topic);
    }
  }

  #teardownES(): void {
    const es = this.#es;
    this.#es = null;
    if (!es) return;
    for (const [topic, fn] of this.#esListeners) es.removeEventListener(topic, fn);
    this.#esListeners.clear();
    es.onopen = null;
    es.onerror = null;
    es.close();
  }

  #disconnect(status: EventStatus): void {
    if (this.#timer !== null) {
      (this.#opts.clearTimer ?? ((t: unknown) => clearTimeout(t as ReturnType<typeof setTimeout>)))(this.#timer);
      this.#timer = null;
    }
    this.#teardownES();
    for (const off of this.#wailsOff.values()) off();
    this.#wailsOff.clear();
    this.#backoff = this.#opts.minBackoff;
    this.#setStatus(status);
  }
}
