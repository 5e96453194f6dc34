import type { ApiClient } from '../api/client';
import { asApiError, type ApiError } from '../api/errors';
import type { OperationSpec } from '../api/types';
import { fieldsFor, initialValues, serverErrorsToFields, validateForm, type FormField, type RawValues } from '../logic/forms';

/** Where a form is: being filled, asking for confirmation, or showing the outcome. */
export type FormStage = 'form' | 'confirm' | 'result';

/**
 * OpForm is a form generated from one operation's params: raw values,
 * client-side validation with the server's messages, confirmation for
 * destructive operations, the run, and its result or error (server
 * validation errors land on their fields). The palette and the views'
 * inline forms (start child, create sandbox, ...) use it.
 */
export class OpForm {
  #client: ApiClient;
  #nodes: () => string[];
  #onDone?: (op: OperationSpec, ok: boolean, result: unknown) => void;

  #op = $state.raw<OperationSpec | null>(null);
  #stage = $state<FormStage>('form');
  #values = $state<RawValues>({});
  #errors = $state.raw<Record<string, string>>({});
  #running = $state(false);
  #result = $state.raw<unknown>(undefined);
  #error = $state.raw<ApiError | null>(null);
  #elapsedMs = $state(0);
  #fields = $derived.by<FormField[]>(() => (this.#op ? fieldsFor(this.#op.params, { nodes: this.#nodes() }) : []));

  constructor(
    client: ApiClient,
    nodes: () => string[] = () => [],
    onDone?: (op: OperationSpec, ok: boolean, result: unknown) => void,
  ) {
    this.#client = client;
    this.#nodes = nodes;
    this.#onDone = onDone;
  }

  get op(): OperationSpec | null {
    return this.#op;
  }
  get stage(): FormStage {
    return this.#stage;
  }
  get fields(): readonly FormField[] {
    return this.#fields;
  }
  get values(): RawValues {
    return this.#values;
  }
  /** Errors per field; "" is an error about the whole form. */
  get errors(): Record<string, string> {
    return this.#errors;
  }
  get running(): boolean {
    return this.#running;
  }
  get result(): unknown {
    return this.#result;
  }
  get error(): ApiError | null {
    return this.#error;
  }
  get elapsedMs(): number {
    return this.#elapsedMs;
  }

  /** load shows an operation's form with its defaults (and optional values). */
  load(op: OperationSpec | null, values?: RawValues): void {
    this.#op = op;
    this.#values = op ? { ...initialValues(fieldsFor(op.params)), ...values } : {};
    this.#errors = {};
    this.#result = undefined;
    this.#error = null;
    this.#stage = 'form';
  }

  /** edit returns from the confirmation or the result to the form. */
  edit(): void {
    this.#stage = 'form';
  }

  setValue(name: string, raw: string): void {
    this.#values[name] = raw;
    if (this.#errors[name] !== undefined) {
      const { [name]: _, ...rest } = this.#errors;
      this.#errors = rest;
    }
  }

  /**
   * submit validates; invalid input shows its messages and sends nothing;
   * a destructive operation asks for confirmation first; otherwise it runs.
   */
  async submit(): Promise<void> {
    const op = this.#op;
    if (!op || this.#running) return;
    const v = validateForm(op.params, this.#values, { nodes: this.#nodes() });
    this.#errors = v.errors;
    if (!v.ok) return;
    if (op.destructive && this.#stage !== 'confirm') {
      this.#stage = 'confirm';
      return;
    }
    await this.#run(op, v.params, op.destructive === true);
  }

  /** confirm runs the destructive operation the user agreed to. */
  async confirm(): Promise<void> {
    if (this.#stage !== 'confirm') return;
    await this.submit();
  }

  async #run(op: OperationSpec, params: Record<string, unknown>, confirm: boolean): Promise<void> {
    this.#running = true;
    this.#error = null;
    const t0 = performance.now();
    let ok = false;
    try {
      this.#result = await this.#client.runOperation(op.name, params, { confirm });
      this.#stage = 'result';
      ok = true;
    } catch (err) {
      const e = asApiError(err);
      this.#error = e;
      this.#result = undefined;
      const problems = e.paramProblems();
      if (problems.length > 0) {
        this.#errors = serverErrorsToFields(problems, op.params.map((p) => p.name));
        this.#stage = 'form';
      } else {
        this.#stage = 'result';
      }
    } finally {
      this.#elapsedMs = performance.now() - t0;
      this.#running = false;
    }
    this.#onDone?.(op, ok, this.#result);
  }
}
