import type { ApiClient } from '../api/client';
import { asApiError, type ApiError } from '../api/errors';
import type { Catalog, LoadFailure, OperationSpec } from '../api/types';

/**
 * CatalogStore holds the operation catalog: which operations this backend
 * offers, so views can show or hide what depends on them.
 */
export class CatalogStore {
  #client: ApiClient;
  #catalog = $state.raw<Catalog | null>(null);
  #error = $state.raw<ApiError | null>(null);
  #loading = $state(false);
  #byName = $derived(new Map((this.#catalog?.operations ?? []).map((o) => [o.name, o])));
  #categories = $derived.by(() => {
    const out = new Map<string, OperationSpec[]>();
    for (const op of this.#catalog?.operations ?? []) {
      const list = out.get(op.category) ?? [];
      list.push(op);
      out.set(op.category, list);
    }
    return out;
  });

  constructor(client: ApiClient) {
    this.#client = client;
  }

  /** The operations (empty until loaded). */
  get operations(): readonly OperationSpec[] {
    return this.#catalog?.operations ?? [];
  }

  /** The operations that failed to load, with their errors. */
  get failures(): readonly LoadFailure[] {
    return this.#catalog?.failures ?? [];
  }

  /** Operations by category. */
  get categories(): ReadonlyMap<string, OperationSpec[]> {
    return this.#categories;
  }

  /** Whether the catalog says the backend is the simulator. */
  get simulated(): boolean {
    return this.#catalog?.simulated ?? false;
  }

  get loaded(): boolean {
    return this.#catalog !== null;
  }

  get loading(): boolean {
    return this.#loading;
  }

  get error(): ApiError | null {
    return this.#error;
  }

  /** get returns an operation's spec. */
  get(name: string): OperationSpec | undefined {
    return this.#byName.get(name);
  }

  /** has tells whether the backend offers an operation (and it can run here). */
  has(name: string): boolean {
    const op = this.#byName.get(name);
    if (!op) return false;
    return !(op.simulator_only && !this.simulated);
  }

  /** hasAll tells whether every named operation is offered. */
  hasAll(...names: string[]): boolean {
    return names.every((n) => this.has(n));
  }

  /** load fetches the catalog; failures are kept in `error` and rethrown as ApiError. */
  async load(): Promise<void> {
    this.#loading = true;
    try {
      this.#catalog = await this.#client.catalog();
      this.#error = null;
    } catch (err) {
      this.#error = asApiError(err);
      throw this.#error;
    } finally {
      this.#loading = false;
    }
  }

  /** setCatalog replaces the catalog (tests, and the desktop shell's bindings). */
  setCatalog(c: Catalog): void {
    this.#catalog = c;
    this.#error = null;
  }
}
