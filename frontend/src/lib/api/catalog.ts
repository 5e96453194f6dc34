import { isObj, num, str, type Obj } from './read';
import type { Catalog, LoadFailure, OperationSpec, ParamSpec, ParamType } from './types';

const PARAM_TYPES: readonly ParamType[] = ['string', 'int', 'float', 'bool', 'duration', 'pid', 'node', 'enum', 'list', 'object'];

function strList(v: unknown): string[] | undefined {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined;
}

/**
 * normalizeCatalog reads the catalog the API sends (GET /api/v1/operations)
 * into the UI's Catalog. It accepts a bare list of specs or an object with
 * "operations" (and "failures"); each spec's params may be the Spec's param
 * list or a JSON-schema object. Malformed entries are skipped, never thrown.
 */
export function normalizeCatalog(raw: unknown): Catalog {
  let list: unknown[] = [];
  let failuresRaw: unknown[] = [];
  let simulated: boolean | undefined;
  let version: number | undefined;
  if (Array.isArray(raw)) {
    list = raw;
  } else if (isObj(raw)) {
    list = Array.isArray(raw.operations) ? raw.operations : [];
    failuresRaw = Array.isArray(raw.failures) ? raw.failures : Array.isArray(raw.load_failures) ? raw.load_failures : [];
    if (typeof raw.simulated === 'boolean') simulated = raw.simulated;
    else if (typeof raw.simulator === 'boolean') simulated = raw.simulator;
    else if (typeof raw.mode === 'string') simulated = raw.mode === 'simulator';
    version = num(raw.version);
  }
  const operations: OperationSpec[] = [];
  const failures: LoadFailure[] = [];
  for (const item of list) {
    const op = normalizeSpec(item);
    if (!op) continue;
    if (op.load_error) {
      // A broken operation is listed with its load error, not offered to run.
      failures.push({ name: op.name, source: op.source ?? '', error: op.load_error });
      continue;
    }
    operations.push(op);
  }
  for (const f of failuresRaw) {
    if (!isObj(f)) continue;
    failures.push({
      name: str(f.name) ?? '',
      source: str(f.source) ?? '',
      error: str(f.error) ?? 'failed to load',
      time: str(f.time),
    });
  }
  if (simulated === undefined) {
    // Without an explicit flag, the simulator is there when its operations can run.
    simulated = operations.some((o) => o.simulator_only && o.available === true);
  }
  return { operations, failures, simulated, version };
}

/** normalizeSpec reads one operation spec, or returns null when it has no name. */
export function normalizeSpec(raw: unknown): OperationSpec | null {
  if (!isObj(raw)) return null;
  const spec = isObj(raw.spec) ? { ...raw, ...raw.spec } : raw;
  const name = str(spec.name);
  if (!name) return null;
  let params: ParamSpec[] = [];
  if (Array.isArray(spec.params)) {
    params = spec.params.map(normalizeParam).filter((p): p is ParamSpec => p !== null);
  } else if (isObj(spec.params)) {
    params = paramsFromSchema(spec.params);
  } else if (isObj(spec.schema)) {
    params = paramsFromSchema(spec.schema);
  } else if (isObj(spec.params_schema)) {
    params = paramsFromSchema(spec.params_schema);
  }
  return {
    name,
    category: str(spec.category) ?? 'other',
    summary: str(spec.summary) ?? '',
    description: str(spec.description),
    params,
    result: str(spec.result),
    destructive: spec.destructive === true,
    simulator_only: spec.simulator_only === true,
    source: str(spec.source),
    available: typeof spec.available === 'boolean' ? spec.available : undefined,
    load_error: str(spec.load_error) || undefined,
    timeout_ms: num(spec.timeout_ms),
  };
}

/** normalizeParam reads one operations.Param. */
export function normalizeParam(raw: unknown): ParamSpec | null {
  if (!isObj(raw)) return null;
  const name = str(raw.name);
  if (!name) return null;
  const t = str(raw.type) as ParamType | undefined;
  const type: ParamType = t && PARAM_TYPES.includes(t) ? t : 'string';
  return {
    name,
    type,
    description: str(raw.description),
    required: raw.required === true,
    default: raw.default,
    min: num(raw.min),
    max: num(raw.max),
    min_len: num(raw.min_len),
    max_len: num(raw.max_len),
    pattern: str(raw.pattern),
    enum: strList(raw.enum),
    items: str(raw.items),
  };
}

/**
 * paramsFromSchema reads a JSON-schema object ({type: object, properties,
 * required}) into params. A property's clusterlab type is taken from
 * "x-type" (or "x-clusterlab-type") when present, otherwise from its
 * JSON type and format.
 */
export function paramsFromSchema(schema: Obj): ParamSpec[] {
  const props = isObj(schema.properties) ? schema.properties : {};
  const required = new Set(strList(schema.required) ?? []);
  const out: ParamSpec[] = [];
  for (const [name, p] of Object.entries(props)) {
    if (!isObj(p)) continue;
    out.push({
      name,
      type: schemaType(p),
      description: str(p.description),
      required: required.has(name),
      default: p.default,
      min: num(p.minimum) ?? num(p['x-min']),
      max: num(p.maximum) ?? num(p['x-max']),
      min_len: num(p.minLength) ?? num(p.minItems),
      max_len: num(p.maxLength) ?? num(p.maxItems),
      pattern: str(p.pattern) ? stripAnchors(str(p.pattern)!) : undefined,
      enum: strList(p.enum) ?? (isObj(p.items) ? strList(p.items.enum) : undefined),
      items: isObj(p.items) ? itemsType(p.items) : undefined,
    });
  }
  return out;
}

function schemaType(p: Obj): ParamType {
  const x = str(p['x-type']) ?? str(p['x-clusterlab-type']);
  if (x && PARAM_TYPES.includes(x as ParamType)) return x as ParamType;
  const fmt = str(p.format);
  if (fmt === 'duration' || fmt === 'pid' || fmt === 'node') return fmt;
  if (Array.isArray(p.enum)) return 'enum';
  switch (str(p.type)) {
    case 'integer':
      return 'int';
    case 'number':
      return 'float';
    case 'boolean':
      return 'bool';
    case 'array':
      return 'list';
    case 'object':
      return 'object';
    default:
      return 'string';
  }
}

function itemsType(items: Obj): string {
  const t = schemaType(items);
  if (t === 'list' && isObj(items.items)) return `list:${schemaType(items.items)}`;
  return t;
}

/** stripAnchors turns a JSON-schema pattern "^(?:x)$" back into the spec's "x". */
function stripAnchors(p: string): string {
  const m = /^\^\(\?:(.*)\)\$$/.exec(p);
  return m ? m[1] : p;
}
