import type { ApiClient, OpResult } from '../api/client';
import { ApiError } from '../api/errors';
import type { CatalogStore } from './catalog.svelte';
import type { Toasts } from './toasts.svelte';

/** One finished run, for the history list. */
export interface RunRecord {
  name: string;
  params: Record<string, unknown>;
  ok: boolean;
  error?: string;
  ms: number;
  time: number;
}

/** Options of Operations.run. */
export interface RunOpts {
  /** The user confirmed a destructive operation. */
  confirm?: boolean;
  /** Do not toast a failure (the caller shows it inline). */
  quiet?: boolean;
  /** Toast this on success. */
  success?: string;
  /** Title of the error toast; default "<name> failed". */
  errorTitle?: string;
}

/** How many runs the history keeps. */
export const MAX_HISTORY = 50;

/**
 * Operations runs operations for the views: it checks the catalog first
 * (a missing operation is an error that says so, not a 404 in the
 * console), toasts failures with their remediation, keeps a short history
 * and tracks what is running so buttons can show it.
 */
export class Operations {
  #client: ApiClient;
  #catalog: CatalogStore;
  #toasts: Toasts;
  #running = $state<Record<string, number>>({});
  #history = $state.raw<RunRecord[]>([]);
  #now: () => number;

  constructor(client: ApiClient, catalog: CatalogStore, toasts: Toasts, now: () => number = () => performance.now()) {
    this.#client = client;
    this.#catalog = catalog;
    this.#toasts = toasts;
    this.#now = now;
  }

  /** The recent runs, newest first. */
  get history(): readonly RunRecord[] {
    return this.#history;
  }

  /** isRunning tells whether a run of name (with key, if given) is in flight. */
  isRunning(name: string, key = ''): boolean {
    return (this.#running[`${name}|${key}`] ?? 0) > 0;
  }

  /** run runs one operation and never throws; failures are toasted unless quiet. */
  async run<T = unknown>(name: string, params: Record<string, unknown> = {}, opts: RunOpts & { key?: string } = {}): Promise<OpResult<T>> {
    const spec = this.#catalog.get(name);
    if (this.#catalog.loaded && !spec) {
      const error = new ApiError({
        code: 'unknown_operation',
        message: `this backend has no operation ${name}`,
        remediation: 'the feature needs a newer clusterlab; see the catalog with Ctrl+K',
      });
      if (!opts.quiet) this.#toasts.error(opts.errorTitle ?? `${name} is not available`, error);
      return { ok: false, error };
    }
    const runKey = `${name}|${opts.key ?? ''}`;
    this.#running[runKey] = (this.#running[runKey] ?? 0) + 1;
    const t0 = this.#now();
    const res = await this.#client.tryOperation<T>(name, params, { confirm: opts.confirm });
    const ms = this.#now() - t0;
    this.#running[runKey] = Math.max(0, (this.#running[runKey] ?? 1) - 1);
    this.#history = [
      { name, params, ok: res.ok, error: res.ok ? undefined : res.error.message, ms, time: Date.now() },
      ...this.#history,
    ].slice(0, MAX_HISTORY);
    if (!res.ok && !opts.quiet) this.#toasts.error(opts.errorTitle ?? `${name} failed`, res.error);
    if (res.ok && opts.success) this.#toasts.success(opts.success);
    return res;
  }
}
