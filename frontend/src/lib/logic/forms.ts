// Forms generated from an operation's params schema, with client-side
// validation that mirrors the server's (operations/params.go) so a user
// sees the same message before sending. The server validates again and its
// per-parameter errors are mapped back onto the fields.

import type { ParamSpec, ParamType } from '../api/types';

/** Limits of the server (operations.MaxStringLen, MaxListLen; cluster.MaxNodeNameLen). */
export const MAX_STRING_LEN = 64 << 10;
export const MAX_LIST_LEN = 10000;
export const MAX_NODE_NAME_LEN = 128;

/** How a field is edited. */
export type FieldKind = 'text' | 'number' | 'select' | 'textarea' | 'bool';

/** One form field, derived from a ParamSpec. */
export interface FormField {
  name: string;
  type: ParamType;
  kind: FieldKind;
  label: string;
  required: boolean;
  /** Shown in an empty input. */
  placeholder: string;
  /** Shown under the input: description and constraints. */
  help: string;
  /** Choices of a select (enum, bool, node when nodes are known). */
  options?: string[];
  /** Suggestions for a free-text input (node names). */
  suggestions?: string[];
  /** The initial raw value (the default, printed). */
  initial: string;
  param: ParamSpec;
}

/** The raw values of a form, as typed. */
export type RawValues = Record<string, string>;

/** Context for validation: the node names the cluster knows. */
export interface ValidationContext {
  nodes?: string[];
}

/** The outcome of validating a form. */
export interface FormValidation {
  /** The parameters to send (only the ones given). */
  params: Record<string, unknown>;
  /** Error per field name. */
  errors: Record<string, string>;
  ok: boolean;
}

/** printDefault renders a default value the way a user would type it. */
export function printDefault(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v) && v.every((x) => typeof x !== 'object' || x === null)) return v.join(',');
  return JSON.stringify(v);
}

function constraintText(p: ParamSpec): string {
  const parts: string[] = [];
  const unit = p.type === 'duration' ? 's' : '';
  if (p.min !== undefined && p.max !== undefined) parts.push(`${p.min}${unit}…${p.max}${unit}`);
  else if (p.min !== undefined) parts.push(`≥ ${p.min}${unit}`);
  else if (p.max !== undefined) parts.push(`≤ ${p.max}${unit}`);
  const what = p.type === 'list' ? 'items' : 'chars';
  if (p.min_len !== undefined && p.max_len !== undefined) parts.push(`${p.min_len}…${p.max_len} ${what}`);
  else if (p.min_len !== undefined) parts.push(`at least ${p.min_len} ${what}`);
  else if (p.max_len !== undefined) parts.push(`at most ${p.max_len} ${what}`);
  if (p.pattern) parts.push(`pattern ${p.pattern}`);
  if (p.default !== undefined && p.default !== null) parts.push(`default ${printDefault(p.default)}`);
  return parts.join(' · ');
}

function placeholderFor(p: ParamSpec): string {
  switch (p.type) {
    case 'int':
      return 'integer';
    case 'float':
      return 'number';
    case 'duration':
      return 'e.g. 250ms, 2s, 1m';
    case 'pid':
      return 'node/id, e.g. node-1/4';
    case 'node':
      return 'node name';
    case 'list': {
      const [outer, inner] = (p.items ?? 'string').split(':');
      if (outer === 'list') return `groups of ${inner}: a,b;c,d  or JSON [["a","b"],["c"]]`;
      return `comma separated ${outer}s, or a JSON array`;
    }
    case 'object':
      return '{"key": "value"}';
    default:
      return '';
  }
}

/** fieldsFor builds the form of an operation's params. */
export function fieldsFor(params: ParamSpec[], ctx: ValidationContext = {}): FormField[] {
  return params.map((p) => {
    let kind: FieldKind = 'text';
    let options: string[] | undefined;
    let suggestions: string[] | undefined;
    switch (p.type) {
      case 'int':
      case 'float':
        kind = 'number';
        break;
      case 'bool':
        kind = 'bool';
        options = ['true', 'false'];
        break;
      case 'enum':
        kind = 'select';
        options = p.enum ?? [];
        break;
      case 'node':
        suggestions = ctx.nodes;
        break;
      case 'object':
        kind = 'textarea';
        break;
      case 'string':
        if (/^(script|source|code|program)$/.test(p.name)) kind = 'textarea';
        break;
      case 'list':
        if ((p.items ?? '').startsWith('list') || (p.items ?? '') === 'object') kind = 'textarea';
        if ((p.items ?? '') === 'node') suggestions = ctx.nodes;
        break;
    }
    const constraints = constraintText(p);
    return {
      name: p.name,
      type: p.type,
      kind,
      label: p.name,
      required: !!p.required,
      placeholder: placeholderFor(p),
      help: [p.description, constraints].filter(Boolean).join(' — '),
      options,
      suggestions,
      initial: printDefault(p.default),
      param: p,
    };
  });
}

/** initialValues returns the raw values a new form starts with. */
export function initialValues(fields: FormField[]): RawValues {
  const out: RawValues = {};
  for (const f of fields) out[f.name] = f.initial;
  return out;
}

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  'µs': 1e-6,
  'μs': 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
};

/**
 * parseDuration parses a Go duration string ("1h2m3.5s", "250ms", "0") into
 * seconds, or returns null when it is not one.
 */
export function parseDuration(s: string): number | null {
  let t = s.trim();
  if (t === '') return null;
  let sign = 1;
  if (t[0] === '-' || t[0] === '+') {
    if (t[0] === '-') sign = -1;
    t = t.slice(1);
  }
  if (t === '0') return 0;
  if (t === '') return null;
  const re = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  let total = 0;
  while (t.length > 0) {
    const m = re.exec(t);
    if (!m) return null;
    total += parseFloat(m[1]) * DURATION_UNITS[m[2]];
    t = t.slice(m[0].length);
  }
  return sign * total;
}

/** formatDuration prints seconds the way Go prints a time.Duration (roughly). */
export function formatDuration(sec: number): string {
  if (sec === 0) return '0s';
  const abs = Math.abs(sec);
  if (abs < 1e-6) return `${+(sec * 1e9).toFixed(0)}ns`;
  if (abs < 1e-3) return `${+(sec * 1e6).toFixed(3)}µs`;
  if (abs < 1) return `${+(sec * 1e3).toFixed(3)}ms`;
  return `${+sec.toFixed(3)}s`;
}

/** validateNodeName mirrors cluster.ValidateNodeName; it returns "" when valid. */
export function validateNodeName(name: string): string {
  if (name === '') return 'node name is empty';
  if (name.length > MAX_NODE_NAME_LEN) return `node name is ${name.length} bytes, more than ${MAX_NODE_NAME_LEN}`;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c <= 0x20 || c > 0x7e || c === 0x2f) {
      return `node name "${name}" has a forbidden character ${JSON.stringify(name[i])} at ${i}`;
    }
  }
  return '';
}

function quote(s: string): string {
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);
}

function byteLength(s: string): number {
  return new TextEncoder().encode(s).length;
}

function checkRange(p: ParamSpec, v: number, shown: string): string {
  const fmt = (b: number) => (p.type === 'duration' ? formatDuration(b) : String(b));
  if (p.min !== undefined && v < p.min) return `${shown} is below the minimum ${fmt(p.min)}`;
  if (p.max !== undefined && v > p.max) return `${shown} is above the maximum ${fmt(p.max)}`;
  return '';
}

function compilePattern(pattern: string): RegExp | null {
  try {
    return new RegExp(`^(?:${pattern})$`, 'u');
  } catch {
    return null; // Go's RE2 syntax the browser cannot read: leave it to the server.
  }
}

/** A validated value, or why it is invalid. */
export type ValueCheck = { value: unknown; error?: undefined } | { value?: undefined; error: string };

/**
 * checkValue validates and converts one value (a typed string, or a JSON
 * value inside a list) for a parameter of type `type`. It mirrors the
 * server's coercion: "5" → 5, "true" → true, "2s" stays "2s" (validated),
 * "node-1/4" is a pid, node names are checked against the known nodes.
 */
export function checkValue(p: ParamSpec, type: string, items: string, v: unknown, ctx: ValidationContext): ValueCheck {
  const asText = (x: unknown): string | null => (typeof x === 'string' ? x : typeof x === 'number' ? String(x) : null);
  switch (type) {
    case 'string': {
      const s = asText(v);
      if (s === null) return { error: `want a string, got ${describe(v)}` };
      const max = p.max_len ?? MAX_STRING_LEN;
      const n = byteLength(s);
      if (n > max) return { error: `string is ${n} bytes, more than ${max}` };
      if (p.min_len !== undefined && n < p.min_len) return { error: `string is ${n} bytes, fewer than ${p.min_len}` };
      if (p.pattern) {
        const re = compilePattern(p.pattern);
        if (re && !re.test(s)) return { error: `${quote(s)} does not match the pattern ${p.pattern}` };
      }
      return { value: s };
    }
    case 'int': {
      let n: number;
      if (typeof v === 'number') n = v;
      else if (typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v)) n = Number(v.trim());
      else return { error: `want an integer, got ${typeof v === 'string' ? quote(v) : describe(v)}` };
      if (!Number.isInteger(n)) return { error: `want an integer, got ${n}` };
      if (!Number.isSafeInteger(n)) return { error: 'integer out of range' };
      const r = checkRange(p, n, String(n));
      return r ? { error: r } : { value: n };
    }
    case 'float': {
      let f: number;
      if (typeof v === 'number') f = v;
      else if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v.trim()))) f = Number(v.trim());
      else return { error: `want a number, got ${typeof v === 'string' ? quote(v) : describe(v)}` };
      if (!Number.isFinite(f)) return { error: 'want a finite number' };
      const r = checkRange(p, f, String(f));
      return r ? { error: r } : { value: f };
    }
    case 'bool': {
      if (typeof v === 'boolean') return { value: v };
      if (typeof v === 'string') {
        const t = v.trim().toLowerCase();
        if (t === 'true' || t === '1') return { value: true };
        if (t === 'false' || t === '0') return { value: false };
        return { error: `want true or false, got ${quote(v)}` };
      }
      return { error: `want true or false, got ${describe(v)}` };
    }
    case 'duration': {
      if (typeof v !== 'string') {
        if (v === 0) return { value: '0s' };
        return { error: `want a duration like 250ms or 2s, got ${describe(v)}` };
      }
      const sec = parseDuration(v);
      if (sec === null) return { error: `want a duration like 250ms or 2s, got ${quote(v)}` };
      if (sec < 0 && (p.min === undefined || p.min >= 0)) return { error: `duration ${v.trim()} is negative` };
      const r = checkRange(p, sec, v.trim());
      return r ? { error: r } : { value: v.trim() };
    }
    case 'pid': {
      if (typeof v !== 'string') return { error: `want a pid string like node-1/4, got ${describe(v)}` };
      const t = v.trim();
      const i = t.lastIndexOf('/');
      const id = t.slice(i + 1);
      if (i <= 0 || !/^\d+$/.test(id) || validateNodeName(t.slice(0, i)) !== '') {
        return { error: `want a pid like node-1/4, got ${quote(v)}` };
      }
      return { value: t };
    }
    case 'node': {
      if (typeof v !== 'string') return { error: `want a string, got ${describe(v)}` };
      const t = v.trim();
      const bad = validateNodeName(t);
      if (bad) return { error: `want a node name: ${bad}` };
      if (ctx.nodes && ctx.nodes.length > 0 && !ctx.nodes.includes(t)) {
        return { error: `unknown node ${quote(t)} (known: ${ctx.nodes.join(', ')})` };
      }
      return { value: t };
    }
    case 'enum': {
      if (typeof v !== 'string') return { error: `want a string, got ${describe(v)}` };
      if (!(p.enum ?? []).includes(v)) return { error: `${quote(v)} is not one of ${(p.enum ?? []).join(', ')}` };
      return { value: v };
    }
    case 'list':
      return checkList(p, items, v, ctx);
    case 'object': {
      if (v && typeof v === 'object' && !Array.isArray(v)) return { value: v };
      if (typeof v === 'string' && v.trim().startsWith('{')) {
        try {
          const o = JSON.parse(v);
          if (o && typeof o === 'object' && !Array.isArray(o)) return { value: o };
        } catch (err) {
          return { error: `want a JSON object: ${(err as Error).message}` };
        }
      }
      return { error: `want a JSON object, got ${describe(v)}` };
    }
  }
  return { error: `unsupported parameter type ${quote(type)}` };
}

function checkList(p: ParamSpec, items: string, v: unknown, ctx: ValidationContext): ValueCheck {
  const [outer, inner = ''] = (items || 'string').split(':');
  let elems: unknown[];
  if (Array.isArray(v)) elems = v;
  else if (typeof v === 'string') {
    const t = v.trim();
    if (t.startsWith('[')) {
      try {
        const parsed = JSON.parse(t);
        if (!Array.isArray(parsed)) return { error: 'want a JSON array' };
        elems = parsed;
      } catch (err) {
        return { error: `want a JSON array: ${(err as Error).message}` };
      }
    } else if (t === '') elems = [];
    else elems = t.split(outer === 'list' ? ';' : ',').map((x) => x.trim());
  } else return { error: `want a list, got ${describe(v)}` };
  const max = p.max_len ?? MAX_LIST_LEN;
  if (elems.length > max) return { error: `list has ${elems.length} elements, more than ${max}` };
  if (p.min_len !== undefined && elems.length < p.min_len) {
    return { error: `list has ${elems.length} elements, fewer than ${p.min_len}` };
  }
  const out: unknown[] = [];
  const elemParam: ParamSpec = { name: p.name, type: outer as ParamType, enum: p.enum, pattern: p.pattern };
  for (let i = 0; i < elems.length; i++) {
    const r = checkValue(elemParam, outer, inner, elems[i], ctx);
    if (r.error !== undefined) return { error: `element ${i}: ${r.error}` };
    out.push(r.value);
  }
  return { value: out };
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return 'a boolean';
  if (typeof v === 'number') return 'a number';
  if (typeof v === 'string') return `the string ${quote(v)}`;
  if (Array.isArray(v)) return 'a list';
  return 'an object';
}

/**
 * validateForm checks every field's raw value and builds the params to
 * send. An empty optional field is left out (the server applies its
 * default); an empty required one is an error.
 */
export function validateForm(params: ParamSpec[], raw: RawValues, ctx: ValidationContext = {}): FormValidation {
  const out: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const p of params) {
    const v = raw[p.name] ?? '';
    if (v.trim() === '') {
      if (p.required) errors[p.name] = `required ${p.type} parameter is missing`;
      continue;
    }
    const r = checkValue(p, p.type, p.items ?? '', v, ctx);
    if (r.error !== undefined) errors[p.name] = r.error;
    else out[p.name] = r.value;
  }
  return { params: out, errors, ok: Object.keys(errors).length === 0 };
}

/**
 * serverErrorsToFields maps the server's invalid_params details onto the
 * form: errors for known fields by name, the rest under "" (shown above
 * the form).
 */
export function serverErrorsToFields(
  problems: { param: string; message: string }[],
  fieldNames: string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pr of problems) {
    const key = fieldNames.includes(pr.param) ? pr.param : '';
    out[key] = out[key] ? `${out[key]}; ${key ? '' : `${pr.param}: `}${pr.message}` : key ? pr.message : `${pr.param}: ${pr.message}`;
  }
  return out;
}
