// The debounced save of the UI state: every change schedules a save, the
// save happens once the changes pause (or at the latest after maxWaitMs of
// continuous change), one save is in flight at a time, the newest state
// always wins, and a state equal to the one the server has is not sent.

import { realTimers, type Timers } from './coalesce';

/** Options of DebouncedSaver. */
export interface SaverOptions<T> {
  /** Quiet time after the last change before saving (ms); default 500. */
  delayMs?: number;
  /** Longest time a change waits while changes keep coming (ms); default 3000. */
  maxWaitMs?: number;
  timers?: Timers;
  /** Identity of a state (equal keys are equal states); default JSON.stringify. */
  key?: (v: T) => string;
  /** Called when a save fails (the server keeps what it had; the next change saves again). */
  onError?: (err: unknown) => void;
  /** Called after each successful save. */
  onSaved?: (v: T) => void;
}

/** DebouncedSaver saves the latest of a stream of states, debounced. */
export class DebouncedSaver<T> {
  #save: (v: T) => Promise<void>;
  #delay: number;
  #maxWait: number;
  #timers: Timers;
  #key: (v: T) => string;
  #onError?: (err: unknown) => void;
  #onSaved?: (v: T) => void;

  #savedKey: string | null = null;
  #next: { value: T; key: string } | null = null;
  #timer: unknown = null;
  #firstChange = 0;
  #inFlight: Promise<void> | null = null;
  #saves = 0;
  #failures = 0;

  constructor(save: (v: T) => Promise<void>, opts: SaverOptions<T> = {}) {
    this.#save = save;
    this.#delay = opts.delayMs ?? 500;
    this.#maxWait = opts.maxWaitMs ?? 3000;
    this.#timers = opts.timers ?? realTimers;
    this.#key = opts.key ?? ((v) => JSON.stringify(v));
    this.#onError = opts.onError;
    this.#onSaved = opts.onSaved;
  }

  /** Whether a change waits to be saved (or is being saved). */
  get pending(): boolean {
    return this.#next !== null || this.#inFlight !== null;
  }
  /** Successful saves so far. */
  get saves(): number {
    return this.#saves;
  }
  /** Failed saves so far. */
  get failures(): number {
    return this.#failures;
  }

  /**
   * baseline tells the saver what the server already has (after a restore),
   * so that state is not sent back; a waiting change is dropped.
   */
  baseline(v: T): void {
    this.#savedKey = this.#key(v);
    this.#next = null;
    this.#clearTimer();
  }

  /** schedule records a new state; it is saved after the quiet time. */
  schedule(v: T): void {
    const key = this.#key(v);
    if (key === this.#savedKey && !this.#inFlight) {
      // Back to what the server has: nothing to send.
      this.#next = null;
      this.#clearTimer();
      return;
    }
    if (this.#next?.key === key) return;
    const now = this.#timers.now();
    if (this.#next === null) this.#firstChange = now;
    this.#next = { value: v, key };
    this.#clearTimer();
    const wait = Math.max(0, Math.min(this.#delay, this.#firstChange + this.#maxWait - now));
    this.#timer = this.#timers.set(() => {
      this.#timer = null;
      void this.#run();
    }, wait);
  }

  /** flush saves a waiting change now and resolves when every save is done. */
  async flush(): Promise<void> {
    this.#clearTimer();
    while (this.#inFlight || this.#next) {
      if (this.#inFlight) await this.#inFlight;
      else await this.#run();
    }
  }

  /** cancel drops a waiting change (an in-flight save finishes). */
  cancel(): void {
    this.#next = null;
    this.#clearTimer();
  }

  #clearTimer(): void {
    if (this.#timer !== null) this.#timers.clear(this.#timer);
    this.#timer = null;
  }

  async #run(): Promise<void> {
    if (this.#inFlight) {
      // One save at a time: the newest waiting state goes after this one.
      await this.#inFlight;
      if (this.#timer === null && this.#next) return this.#run();
      return;
    }
    const next = this.#next;
    if (!next) return;
    this.#next = null;
    if (next.key === this.#savedKey) return;
    const p = (async () => {
      try {
        await this.#save(next.value);
        this.#savedKey = next.key;
        this.#saves++;
        this.#onSaved?.(next.value);
      } catch (err) {
        this.#failures++;
        this.#onError?.(err);
      }
    })();
    this.#inFlight = p;
    try {
      await p;
    } finally {
      this.#inFlight = null;
    }
    if (this.#next && this.#timer === null) await this.#run();
  }
}
