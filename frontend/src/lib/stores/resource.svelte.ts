import type { ApiClient } from '../api/client';
import { asApiError, type ApiError } from '../api/errors';
import type { EventStream } from '../api/events';
import { realTimers, throttled, type Timers } from '../logic/coalesce';

/** Options of OpResource.start. */
export interface FollowOptions {
  /** Refresh on these event topics (coalesced). */
  topics?: string[];
  /** Poll period (ms); 0 means no polling. */
  pollMs?: number;
  /** Shortest time between two event-driven refreshes (ms); default 250. */
  coalesceMs?: number;
}

/**
 * OpResource is the result of one read operation (registry_list,
 * supervisor_children, ...) kept fresh for a view: data, error (shown
 * inline with its remediation), loading, and refreshes on events or a
 * timer. Only the newest answer is applied.
 */
export class OpResource<T = unknown> {
  #client: ApiClient;
  #events: EventStream | null;
  #name: string;
  #params: () => Record<string, unknown>;
  #timers: Timers;
  #data = $state.raw<T | undefined>(undefined);
  #error = $state.raw<ApiError | null>(null);
  #loading = $state(false);
  #updatedAt = $state(0);
  #gen = 0;

  constructor(
    client: ApiClient,
    events: EventStream | null,
    name: string,
    params: () => Record<string, unknown> = () => ({}),
    timers: Timers = realTimers,
  ) {
    this.#client = client;
    this.#events = events;
    this.#name = name;
    this.#params = params;
    this.#timers = timers;
  }

  get name(): string {
    return this.#name;
  }
  get data(): T | undefined {
    return this.#data;
  }
  get error(): ApiError | null {
    return this.#error;
  }
  get loading(): boolean {
    return this.#loading;
  }
  get updatedAt(): number {
    return this.#updatedAt;
  }

  /** refresh runs the operation again. */
  async refresh(): Promise<void> {
    const gen = ++this.#gen;
    this.#loading = true;
    try {
      const data = await this.#client.runOperation<T>(this.#name, this.#params());
      if (gen !== this.#gen) return;
      this.#data = data;
      this.#error = null;
      this.#updatedAt = this.#timers.now();
    } catch (err) {
      if (gen === this.#gen) this.#error = asApiError(err);
    } finally {
      if (gen === this.#gen) this.#loading = false;
    }
  }

  /** start refreshes now, on events and on a timer; it returns the stop function. */
  start(opts: FollowOptions = {}): () => void {
    const soon = throttled(opts.coalesceMs ?? 250, () => void this.refresh(), this.#timers);
    const offs = (opts.topics ?? []).map((t) => this.#events?.subscribe(t, () => soon()) ?? (() => {}));
    void this.refresh();
    let timer: unknown = null;
    if (opts.pollMs && opts.pollMs > 0) {
      const tick = () => {
        void this.refresh();
        timer = this.#timers.set(tick, opts.pollMs!);
      };
      timer = this.#timers.set(tick, opts.pollMs);
    }
    return () => {
      for (const off of offs) off();
      soon.cancel();
      if (timer !== null) this.#timers.clear(timer);
    };
  }
}
