/** Timer functions, injectable so tests control time. */
export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(t: unknown): void;
  now(): number;
}

/** The real timers. */
export const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
  now: () => Date.now(),
};

/** A coalescer: push items, get batches, at most one flush per window. */
export interface Coalescer<T> {
  /** push adds an item; a flush follows within the window. */
  push(item: T): void;
  /** flush delivers what is pending now. */
  flush(): void;
  /** cancel drops what is pending and stops the timer. */
  cancel(): void;
  /** pending is the number of items waiting. */
  readonly pending: number;
}

/**
 * coalesce batches bursts of events: the first item of a quiet period is
 * delivered at once (leading edge, so a single change shows without delay),
 * later items within `windowMs` are collected and delivered together at the
 * end of the window. With `key`, only the latest item per key is kept.
 */
export function coalesce<T>(
  windowMs: number,
  deliver: (batch: T[]) => void,
  opts: { key?: (item: T) => string; timers?: Timers; leading?: boolean } = {},
): Coalescer<T> {
  const timers = opts.timers ?? realTimers;
  const leading = opts.leading ?? true;
  let items: T[] = [];
  let byKey = new Map<string, T>();
  let timer: unknown = null;
  let lastFlush = -Infinity;

  const take = (): T[] => {
    const out = opts.key ? [...byKey.values()] : items;
    items = [];
    byKey = new Map();
    return out;
  };
  const pendingCount = () => (opts.key ? byKey.size : items.length);
  const doFlush = () => {
    timer = null;
    if (pendingCount() === 0) return;
    lastFlush = timers.now();
    deliver(take());
  };

  return {
    push(item: T) {
      if (opts.key) {
        const k = opts.key(item);
        byKey.delete(k);
        byKey.set(k, item);
      } else {
        items.push(item);
      }
      if (timer !== null) return;
      const since = timers.now() - lastFlush;
      if (leading && since >= windowMs) {
        doFlush();
        return;
      }
      timer = timers.set(doFlush, leading ? Math.max(0, windowMs - since) : windowMs);
    },
    flush() {
      if (timer !== null) {
        timers.clear(timer);
        timer = null;
      }
      doFlush();
    },
    cancel() {
      if (timer !== null) timers.clear(timer);
      timer = null;
      take();
    },
    get pending() {
      return pendingCount();
    },
  };
}

/**
 * throttled returns fn wrapped so that calls within `windowMs` of the last
 * run collapse into one trailing run: a burst of change notifications turns
 * into at most one refresh per window, and the last change is never lost.
 */
export function throttled(windowMs: number, fn: () => void, timers: Timers = realTimers): { (): void; cancel(): void } {
  const c = coalesce<null>(windowMs, () => fn(), { timers });
  const call = () => c.push(null);
  call.cancel = () => c.cancel();
  return call;
}
