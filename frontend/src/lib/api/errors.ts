import type { ApiErrorBody, ParamProblem } from './types';

/**
 * ApiError is every failure the API module reports: the server's error
 * envelope {"error":{code,message,details,remediation}}, or a failure to
 * reach the server at all (code "network"), or a response the UI cannot
 * read (code "bad_response").
 */
export class ApiError extends Error {
  /** Stable code (invalid_params, not_found, node_unreachable, network, ...). */
  readonly code: string;
  /** Structured details from the server. */
  readonly details: Record<string, unknown>;
  /** What to do next, when the server (or the client) knows. */
  readonly remediation: string;
  /** HTTP status; 0 when the server was not reached. */
  readonly status: number;

  constructor(body: ApiErrorBody, status = 0) {
    super(body.message || body.code || 'request failed');
    this.name = 'ApiError';
    this.code = body.code || 'internal';
    this.details = body.details ?? {};
    this.remediation = body.remediation ?? '';
    this.status = status;
  }

  /** The per-parameter problems of an invalid_params error. */
  paramProblems(): ParamProblem[] {
    const raw = this.details['params'];
    if (!Array.isArray(raw)) return [];
    const out: ParamProblem[] = [];
    for (const p of raw) {
      if (p && typeof p === 'object' && typeof (p as ParamProblem).param === 'string') {
        out.push({ param: (p as ParamProblem).param, message: String((p as ParamProblem).message ?? '') });
      }
    }
    return out;
  }

  /** A plain object for logs and JSON views. */
  toJSON(): ApiErrorBody & { status: number } {
    return {
      code: this.code,
      message: this.message,
      details: this.details,
      remediation: this.remediation,
      status: this.status,
    };
  }
}

/** asApiError turns anything thrown into an ApiError. */
export function asApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof Error) {
    if (err.name === 'AbortError') {
      return new ApiError({ code: 'aborted', message: 'the request was cancelled' });
    }
    return new ApiError({ code: 'internal', message: err.message });
  }
  return new ApiError({ code: 'internal', message: String(err) });
}

/**
 * parseErrorBody reads an error response body: the envelope when it is one,
 * otherwise a generic error naming the status.
 */
export function parseErrorBody(status: number, text: string): ApiError {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const env = (body as { error?: unknown } | undefined)?.error;
  if (env && typeof env === 'object') {
    const e = env as Partial<ApiErrorBody>;
    return new ApiError(
      {
        code: typeof e.code === 'string' ? e.code : codeForStatus(status),
        message: typeof e.message === 'string' ? e.message : `HTTP ${status}`,
        details: e.details && typeof e.details === 'object' ? (e.details as Record<string, unknown>) : {},
        remediation: typeof e.remediation === 'string' ? e.remediation : defaultRemediation(status),
      },
      status,
    );
  }
  const snippet = text.trim().slice(0, 200);
  return new ApiError(
    {
      code: codeForStatus(status),
      message: `HTTP ${status}${snippet ? `: ${snippet}` : ''}`,
      remediation: defaultRemediation(status),
    },
    status,
  );
}

function codeForStatus(status: number): string {
  switch (status) {
    case 400:
      return 'bad_request';
    case 401:
      return 'unauthorized';
    case 404:
      return 'not_found';
    case 409:
      return 'conflict';
    case 422:
      return 'unprocessable';
    case 502:
      return 'node_unreachable';
    case 504:
      return 'timeout';
    default:
      return 'internal';
  }
}

function defaultRemediation(status: number): string {
  if (status === 401) {
    return 'open the URL that `clusterlab serve` printed (it carries ?token=…), or read the token from serve.lock in the data dir';
  }
  return '';
}
