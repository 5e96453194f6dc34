import type { Timers } from './coalesce';

/** FakeTimers is a Timers whose clock only moves when a test says so. */
export class FakeTimers implements Timers {
  #now = 0;
  #seq = 0;
  #pending = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.#now;
  }

  set(fn: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.#pending.set(id, { at: this.#now + Math.max(0, ms), fn });
    return id;
  }

  clear(t: unknown): void {
    this.#pending.delete(t as number);
  }

  /** Number of timers waiting. */
  get pending(): number {
    return this.#pending.size;
  }

  /** advance moves the clock by ms, firing due timers in time order. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.#pending) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.#pending.delete(next[0]);
      this.#now = next[1].at;
      next[1].fn();
    }
    this.#now = end;
  }
}
