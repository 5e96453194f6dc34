import type { ApiClient } from '../api/client';
import type { OperationSpec } from '../api/types';
import type { RawValues } from '../logic/forms';
import { searchOperations } from '../logic/search';
import type { CatalogStore } from './catalog.svelte';
import { OpForm } from './opform.svelte';

/** Where the palette is: choosing an operation, filling its form, confirming, or showing the outcome. */
export type PaletteStage = 'search' | 'form' | 'confirm' | 'result';

/**
 * PaletteStore is the command palette (Ctrl/Cmd+K): search the catalog,
 * fill a form generated from the chosen operation's params (an OpForm),
 * run it (asking first for destructive operations) and show the result or
 * the error with its remediation, without leaving the page.
 */
export class PaletteStore {
  #catalog: CatalogStore;
  readonly form: OpForm;

  #open = $state(false);
  #searching = $state(true);
  #query = $state('');
  #highlight = $state(0);
  #matches = $derived.by(() => searchOperations([...this.#catalog.operations], this.#query));

  constructor(
    client: ApiClient,
    catalog: CatalogStore,
    nodes: () => string[] = () => [],
    onDone?: (op: OperationSpec, ok: boolean, result: unknown) => void,
  ) {
    this.#catalog = catalog;
    this.form = new OpForm(client, nodes, onDone);
  }

  get isOpen(): boolean {
    return this.#open;
  }
  get stage(): PaletteStage {
    return this.#searching ? 'search' : this.form.stage;
  }
  get query(): string {
    return this.#query;
  }
  get highlight(): number {
    return this.#highlight;
  }
  /** The operations matching the query, best first. */
  get matches(): readonly OperationSpec[] {
    return this.#matches;
  }
  get op(): OperationSpec | null {
    return this.form.op;
  }
  get values(): RawValues {
    return this.form.values;
  }
  get errors(): Record<string, string> {
    return this.form.errors;
  }
  get result(): unknown {
    return this.form.result;
  }
  get error() {
    return this.form.error;
  }

  /** open shows the palette, optionally straight at an operation's form with values. */
  open(opName?: string, values?: RawValues): void {
    this.#open = true;
    if (opName) {
      const op = this.#catalog.get(opName);
      if (op) {
        this.choose(op, values);
        return;
      }
    }
    this.#searching = true;
    this.#query = '';
    this.#highlight = 0;
  }

  close(): void {
    this.#open = false;
  }

  toggle(): void {
    if (this.#open) this.close();
    else this.open();
  }

  setQuery(q: string): void {
    this.#query = q;
    this.#highlight = 0;
  }

  /** move moves the highlighted match (arrow keys), wrapping around. */
  move(delta: number): void {
    const n = this.#matches.length;
    if (n === 0) return;
    this.#highlight = (((this.#highlight + delta) % n) + n) % n;
  }

  /** chooseHighlighted picks the highlighted match (Enter). */
  chooseHighlighted(): void {
    const op = this.#matches[this.#highlight];
    if (op) this.choose(op);
  }

  /** choose opens an operation's form with its defaults. */
  choose(op: OperationSpec, values?: RawValues): void {
    this.form.load(op, values);
    this.#searching = false;
  }

  /** back returns to the search (from the form) or to the form (from confirm/result). */
  back(): void {
    if (this.#searching) return;
    if (this.form.stage === 'form') this.#searching = true;
    else this.form.edit();
  }

  setValue(name: string, raw: string): void {
    this.form.setValue(name, raw);
  }

  submit(): Promise<void> {
    return this.form.submit();
  }

  confirm(): Promise<void> {
    return this.form.confirm();
  }
}
