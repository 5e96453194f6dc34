import { asApiError } from '../api/errors';
import { realTimers, type Timers } from '../logic/coalesce';

/** How a toast looks and how long it stays. */
export type ToastKind = 'error' | 'warning' | 'info' | 'success';

/** One message in the toast stack. */
export interface Toast {
  id: number;
  kind: ToastKind;
  title: string;
  message: string;
  /** What to do next (errors). */
  remediation?: string;
  /** The error code, when it is an API error. */
  code?: string;
  time: number;
}

/** How long non-error toasts stay (ms). Errors stay until dismissed. */
export const TOAST_TTL = 5000;

/** At most this many toasts are kept; the oldest non-error ones go first. */
export const MAX_TOASTS = 8;

/**
 * Toasts is the stack of messages in the corner. Errors never vanish on
 * their own: they stay until the user dismisses them, with the
 * remediation the API sent.
 */
export class Toasts {
  #items = $state<Toast[]>([]);
  #seq = 0;
  #timers: Timers;

  constructor(timers: Timers = realTimers) {
    this.#timers = timers;
  }

  /** The toasts, oldest first. */
  get items(): readonly Toast[] {
    return this.#items;
  }

  /** push adds a toast and returns its id. */
  push(t: Omit<Toast, 'id' | 'time'>): number {
    const id = ++this.#seq;
    const toast: Toast = { ...t, id, time: this.#timers.now() };
    let next = [...this.#items, toast];
    while (next.length > MAX_TOASTS) {
      const i = next.findIndex((x) => x.kind !== 'error');
      next.splice(i >= 0 ? i : 0, 1);
    }
    this.#items = next;
    if (t.kind !== 'error') this.#timers.set(() => this.dismiss(id), TOAST_TTL);
    return id;
  }

  /** error shows a failure with its code and remediation; it stays until dismissed. */
  error(title: string, err: unknown): number {
    const e = asApiError(err);
    return this.push({ kind: 'error', title, message: e.message, remediation: e.remediation || undefined, code: e.code });
  }

  /** info shows a passing message. */
  info(title: string, message = ''): number {
    return this.push({ kind: 'info', title, message });
  }

  /** success shows that something worked. */
  success(title: string, message = ''): number {
    return this.push({ kind: 'success', title, message });
  }

  /** warning shows something partial (e.g. nodes that did not answer). */
  warning(title: string, message = '', remediation?: string): number {
    return this.push({ kind: 'warning', title, message, remediation });
  }

  /** dismiss removes one toast. */
  dismiss(id: number): void {
    this.#items = this.#items.filter((t) => t.id !== id);
  }

  /** clear removes every toast. */
  clear(): void {
    this.#items = [];
  }
}
