import { ApiError, asApiError, parseErrorBody } from './errors';
import { normalizeCatalog } from './catalog';
import type {
  BackendInfo,
  Catalog,
  NodeInfo,
  OperationSpec,
  ProcessInfo,
  ProcessPage,
  ProcessQuery,
  Topology,
} from './types';
import { normalizeInfo, normalizeNodes, normalizeProcessPage, normalizeTopology } from './normalize';

/** The fetch the client uses (window.fetch, or a fake in tests). */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** Options of ApiClient. */
export interface ApiClientOptions {
  /** Prefix of every URL; "" for same-origin (the default). */
  baseUrl?: string;
  /** The bearer token; null sends no Authorization header. */
  token?: string | null;
  /** The fetch to use; window.fetch by default. */
  fetch?: FetchLike;
  /** Called with every ApiError before it is thrown (for logging). */
  onError?: (err: ApiError) => void;
}

/** Options of one operation run. */
export interface RunOptions {
  /** Confirms a destructive operation (the UI asked the user). */
  confirm?: boolean;
  /** Cancels the request. */
  signal?: AbortSignal;
}

/** The result of tryOperation: the value or the error, never a throw. */
export type OpResult<T> = { ok: true; value: T } | { ok: false; error: ApiError };

/**
 * The header that confirms a destructive operation on POST (the API answers
 * 428 confirmation_required without it); DELETE routes need none.
 */
export const CONFIRM_HEADER = 'X-Clusterlab-Confirm';

/** The API's URL prefix. */
export const API_PREFIX = '/api/v1';

/** Maximum response body the client reads (bytes), so a runaway response cannot hang the page. */
export const MAX_RESPONSE_BYTES = 64 << 20;

/**
 * ApiClient is the typed client over the clusterlab REST API. Every method
 * resolves with data or rejects with an ApiError; components use it through
 * the stores and never call fetch themselves.
 */
export class ApiClient {
  readonly baseUrl: string;
  #token: string | null;
  #fetch: FetchLike;
  #onError?: (err: ApiError) => void;

  constructor(opts: ApiClientOptions = {}) {
    this.baseUrl = (opts.baseUrl ?? '').replace(/\/+$/, '');
    this.#token = opts.token ?? null;
    this.#fetch = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#onError = opts.onError;
  }

  /** The bearer token in use (null without one). */
  get token(): string | null {
    return this.#token;
  }

  /** Replaces the bearer token. */
  setToken(token: string | null): void {
    this.#token = token;
  }

  /** url builds an absolute API URL from a path under /api/v1 and a query. */
  url(path: string, query?: Record<string, unknown>): string {
    let u = `${this.baseUrl}${API_PREFIX}${path}`;
    const qs = encodeQuery(query);
    if (qs) u += `?${qs}`;
    return u;
  }

  /**
   * request sends one request and decodes the JSON answer. A non-2xx answer
   * rejects with the server's error envelope as an ApiError; a network
   * failure rejects with code "network".
   */
  async request<T>(
    method: string,
    path: string,
    opts: { query?: Record<string, unknown>; body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
    if (this.#token) headers['Authorization'] = `Bearer ${this.#token}`;
    const init: RequestInit = { method, headers, signal: opts.signal };
    if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(opts.body);
    }
    let res: Response;
    try {
      res = await this.#fetch(this.url(path, opts.query), init);
    } catch (err) {
      const e = asApiError(err);
      throw this.#report(
        e.code === 'aborted'
          ? e
          : new ApiError({
              code: 'network',
              message: `cannot reach the clusterlab API: ${e.message}`,
              remediation: 'check that `clusterlab serve` (or the app) is still running, then reload the page',
            }),
      );
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw this.#report(
        new ApiError({ code: 'network', message: `reading the answer failed: ${asApiError(err).message}` }, res.status),
      );
    }
    if (text.length > MAX_RESPONSE_BYTES) {
      throw this.#report(
        new ApiError({ code: 'bad_response', message: `the answer is ${text.length} bytes, more than the UI reads` }, res.status),
      );
    }
    if (!res.ok) throw this.#report(parseErrorBody(res.status, text));
    if (text.trim() === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw this.#report(
        new ApiError(
          { code: 'bad_response', message: `the API answered ${path} with something that is not JSON` },
          res.status,
        ),
      );
    }
  }

  #report(err: ApiError): ApiError {
    this.#onError?.(err);
    return err;
  }

  /** catalog returns every operation and load failure (GET /operations). */
  async catalog(signal?: AbortSignal): Promise<Catalog> {
    const raw = await this.request<unknown>('GET', '/operations', { signal });
    return normalizeCatalog(raw);
  }

  /** operation returns one operation's spec (GET /operations/{name}). */
  async operation(name: string, signal?: AbortSignal): Promise<OperationSpec> {
    const raw = await this.request<unknown>('GET', `/operations/${encodeURIComponent(name)}`, { signal });
    const cat = normalizeCatalog({ operations: [raw] });
    const op = cat.operations[0];
    if (!op) throw new ApiError({ code: 'bad_response', message: `the API sent no spec for ${name}` });
    return op;
  }

  /**
   * runOperation runs any operation by name (POST /operations/{name}) and
   * resolves with its result, or rejects with an ApiError carrying code,
   * message, details and remediation.
   */
  async runOperation<T = unknown>(name: string, params: Record<string, unknown> = {}, opts: RunOptions = {}): Promise<T> {
    const headers: Record<string, string> = {};
    if (opts.confirm) headers[CONFIRM_HEADER] = 'true';
    const raw = await this.request<unknown>('POST', `/operations/${encodeURIComponent(name)}`, {
      body: params,
      headers,
      signal: opts.signal,
    });
    return unwrapResult(raw) as T;
  }

  /** tryOperation is runOperation that never rejects. */
  async tryOperation<T = unknown>(name: string, params: Record<string, unknown> = {}, opts: RunOptions = {}): Promise<OpResult<T>> {
    try {
      return { ok: true, value: await this.runOperation<T>(name, params, opts) };
    } catch (err) {
      return { ok: false, error: asApiError(err) };
    }
  }

  /** nodes lists the members (GET /nodes). */
  async nodes(signal?: AbortSignal): Promise<NodeInfo[]> {
    return normalizeNodes(await this.request<unknown>('GET', '/nodes', { signal }));
  }

  /** topology returns the cluster as a graph (GET /topology, the cluster_topology operation). */
  async topology(signal?: AbortSignal): Promise<Topology> {
    return normalizeTopology(await this.request<unknown>('GET', '/topology', { signal }));
  }

  /** info returns what the backend is (GET /info): simulated, seed, observer, version. */
  async info(signal?: AbortSignal): Promise<BackendInfo> {
    return normalizeInfo(await this.request<unknown>('GET', '/info', { signal }));
  }

  /** processes runs list_processes (GET /processes) with filters, sort and cursor. */
  async processes(q: ProcessQuery, signal?: AbortSignal): Promise<ProcessPage> {
    return normalizeProcessPage(await this.request<unknown>('GET', '/processes', { query: { ...q }, signal }));
  }

  /** process returns one process (GET /processes/{pid}). */
  async process(pid: string, signal?: AbortSignal): Promise<ProcessInfo> {
    return unwrapResult(await this.request<unknown>('GET', `/processes/${encodeURIComponent(pid)}`, { signal })) as ProcessInfo;
  }

  /** killProcess kills one process (DELETE /processes/{pid}); the caller has asked for confirmation. */
  async killProcess(pid: string, reason?: string): Promise<unknown> {
    return unwrapResult(
      await this.request<unknown>('DELETE', `/processes/${encodeURIComponent(pid)}`, {
        query: reason ? { reason } : undefined,
      }),
    );
  }
}

/**
 * encodeQuery turns a flat object into a query string: undefined, null and
 * "" are left out, arrays repeat the key, booleans and numbers are printed.
 */
export function encodeQuery(query?: Record<string, unknown>): string {
  if (!query) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) {
      for (const x of v) p.append(k, String(x));
    } else if (typeof v === 'object') {
      p.append(k, JSON.stringify(v));
    } else {
      p.append(k, String(v));
    }
  }
  return p.toString();
}

/**
 * unwrapResult takes the operation's result out of a response: the API
 * may answer {"result": X} (possibly with metadata) or X itself.
 */
export function unwrapResult(raw: unknown): unknown {
  if (raw && typeof raw === 'object' && !Array.isArray(raw) && 'result' in raw) {
    const keys = Object.keys(raw);
    if (keys.every((k) => ['result', 'operation', 'elapsed', 'elapsed_ms', 'duration_ms', 'took'].includes(k))) {
      return (raw as { result: unknown }).result;
    }
  }
  return raw;
}
