import type { ApiClient } from '../api/client';
import { asApiError, type ApiError } from '../api/errors';
import type { EventStream } from '../api/events';
import type { OperationSpec } from '../api/types';
import { realTimers, type Timers } from '../logic/coalesce';
import { buildSequence, mergeEvents, type TraceEvent } from '../logic/sequence';

/** What trace_get says about the session (cluster.TraceInfo). */
export interface TraceInfo {
  id: string;
  pid: string;
  node: string;
  kinds?: string[];
  started?: string;
  ended?: string;
  end_reason?: string;
  events?: number;
  dropped?: number;
}

/**
 * TraceSession follows one trace: it polls the trace operation for events
 * after the last sequence number it holds (and at once on trace events),
 * until the session ends. Events are kept in order, bounded.
 */
export class TraceSession {
  #client: ApiClient;
  #events: EventStream | null;
  #getOp: OperationSpec;
  #timers: Timers;
  readonly id: string;

  #info = $state.raw<TraceInfo | null>(null);
  #list = $state.raw<TraceEvent[]>([]);
  #error = $state.raw<ApiError | null>(null);
  #sequence = $derived(buildSequence(this.#list));
  #inFlight = false;

  constructor(client: ApiClient, events: EventStream | null, getOp: OperationSpec, id: string, timers: Timers = realTimers) {
    this.#client = client;
    this.#events = events;
    this.#getOp = getOp;
    this.id = id;
    this.#timers = timers;
  }

  get info(): TraceInfo | null {
    return this.#info;
  }
  get events(): readonly TraceEvent[] {
    return this.#list;
  }
  get error(): ApiError | null {
    return this.#error;
  }
  /** The events laid out as a sequence diagram. */
  get sequence() {
    return this.#sequence;
  }
  /** The session still records. */
  get running(): boolean {
    const ended = this.#info?.ended;
    return !this.#info || !ended || ended.startsWith('0001-');
  }

  #params(): Record<string, unknown> {
    const p: Record<string, unknown> = { id: this.id };
    const after = this.#getOp.params.find((x) => /^after/.test(x.name));
    const last = this.#list.length ? this.#list[this.#list.length - 1].seq : 0;
    if (after && last > 0) p[after.name] = last;
    return p;
  }

  /** poll fetches what is new. */
  async poll(): Promise<void> {
    if (this.#inFlight) return;
    this.#inFlight = true;
    try {
      const snap = await this.#client.runOperation<{ info?: TraceInfo; events?: TraceEvent[] }>(this.#getOp.name, this.#params());
      if (snap?.info) this.#info = snap.info;
      if (Array.isArray(snap?.events) && snap.events.length) this.#list = mergeEvents(this.#list, snap.events);
      this.#error = null;
    } catch (err) {
      this.#error = asApiError(err);
    } finally {
      this.#inFlight = false;
    }
  }

  /** push applies live events (from the "traces" topic) that belong to this session. */
  push(items: readonly { trace?: string; event?: TraceEvent }[]): void {
    const mine = items.filter((x) => x && x.trace === this.id && x.event && typeof x.event.seq === 'number').map((x) => x.event!);
    if (mine.length) this.#list = mergeEvents(this.#list, mine);
  }

  /**
   * start follows the session: live events from the "traces" topic, a poll
   * when it ends ("trace.end"), and a poll every pollMs as the backstop
   * (slower once ended). It returns the stop function.
   */
  start(pollMs = 1000): () => void {
    let timer: unknown = null;
    let stopped = false;
    const tick = async () => {
      await this.poll();
      if (stopped) return;
      timer = this.#timers.set(tick, this.running ? pollMs : pollMs * 10);
    };
    void tick();
    const offs = [
      this.#events?.subscribe('traces', (ev) => {
        const items = (ev.data as { events?: unknown } | null)?.events;
        if (Array.isArray(items)) this.push(items as { trace?: string; event?: TraceEvent }[]);
      }),
      this.#events?.subscribe('trace.end', (ev) => {
        const id = (ev.data as { id?: string } | null)?.id;
        if (!id || id === this.id) void this.poll();
      }),
    ];
    return () => {
      stopped = true;
      for (const off of offs) off?.();
      if (timer !== null) this.#timers.clear(timer);
    };
  }
}
