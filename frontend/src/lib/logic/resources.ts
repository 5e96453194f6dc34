/** One resource sample as the chart plots it. */
export interface ResourcePoint {
  /** Seconds since epoch. */
  t: number;
  cpu: number | null;
  mem: number | null;
  load1: number | null;
}

/** The operation that returns a node's resource history (the health issue's node_resources). */
export const RESOURCE_OPS = ['node_resources'];

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/**
 * resourcePoint reads a cluster.Resources sample from an operation result:
 * the object itself or its "resources" field; null when it has none of
 * the known fields.
 */
export function resourcePoint(raw: unknown, nowSec: number): ResourcePoint | null {
  if (!raw || typeof raw !== 'object') return null;
  const r = ((raw as Record<string, unknown>).resources ?? raw) as Record<string, unknown>;
  if (!r || typeof r !== 'object') return null;
  const cpu = num(r.cpu_percent);
  const mem = num(r.mem_used_percent);
  const load1 = num(r.load1);
  if (cpu === null && mem === null && load1 === null) return null;
  const t = typeof r.time === 'string' ? Date.parse(r.time) / 1000 : NaN;
  return { t: Number.isFinite(t) && t > 0 ? t : nowSec, cpu, mem, load1 };
}

/**
 * appendPoint adds a sample to a window of the last `windowSec` seconds,
 * dropping older samples and samples not newer than the last one.
 */
export function appendPoint(series: ResourcePoint[], p: ResourcePoint, windowSec: number): ResourcePoint[] {
  const last = series[series.length - 1];
  if (last && p.t <= last.t) return series;
  const cutoff = p.t - windowSec;
  return [...series.filter((x) => x.t >= cutoff), p];
}
