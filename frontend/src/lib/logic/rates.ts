/** The last count of a process's messages and when it was seen. */
export interface Seen {
  count: number;
  t: number;
}

/**
 * RateTracker turns cumulative message counters into rates (per second)
 * between two observations of the same process. The first observation has
 * no rate; a counter that went down (a restarted process reusing nothing,
 * or a new process) restarts the measure. Entries not seen for maxAgeMs are forgotten.
 */
export class RateTracker {
  #seen = new Map<string, Seen>();
  #rates = new Map<string, number>();
  #maxAgeMs: number;

  constructor(maxAgeMs = 60_000) {
    this.#maxAgeMs = maxAgeMs;
  }

  /** observe records counts at time t (ms) and returns the rates known now. */
  observe(rows: readonly { pid: string; messages_in: number }[], t: number): ReadonlyMap<string, number> {
    for (const r of rows) {
      const prev = this.#seen.get(r.pid);
      if (prev && t > prev.t && r.messages_in >= prev.count) {
        // Keep the rate of the last interval that was long enough to mean something.
        if (t - prev.t >= 250) {
          this.#rates.set(r.pid, ((r.messages_in - prev.count) * 1000) / (t - prev.t));
          this.#seen.set(r.pid, { count: r.messages_in, t });
        }
      } else {
        this.#rates.delete(r.pid);
        this.#seen.set(r.pid, { count: r.messages_in, t });
      }
    }
    for (const [pid, s] of this.#seen) {
      if (t - s.t > this.#maxAgeMs) {
        this.#seen.delete(pid);
        this.#rates.delete(pid);
      }
    }
    return this.#rates;
  }

  /** rate returns the last known rate of a process (messages in per second). */
  rate(pid: string): number | undefined {
    return this.#rates.get(pid);
  }
}
