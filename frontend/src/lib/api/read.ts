// Primitive readers for untrusted JSON from the API: each returns the value
// when it has the expected type, else undefined. The shape readers
// (normalize.ts, catalog.ts, logic/healthTypes.ts) are built on them.

/** A JSON object (not an array, not null). */
export type Obj = Record<string, unknown>;

/** isObj reports whether v is a JSON object. */
export function isObj(v: unknown): v is Obj {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** str returns v when it is a string. */
export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** num returns v when it is a finite number. */
export function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
