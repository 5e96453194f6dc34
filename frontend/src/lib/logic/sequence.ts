/** A trace event as the API sends it (cluster.TraceEvent). */
export interface TraceEvent {
  seq: number;
  time: string;
  node: string;
  pid: string;
  kind: string;
  from?: string;
  to?: string;
  msg_kind?: string;
  summary?: string;
  reason?: string;
}

/** One lane of the sequence view: a process, on its node. */
export interface Lane {
  pid: string;
  node: string;
}

/** One row of the sequence view: an arrow (or a mark) between lanes. */
export interface SeqRow {
  seq: number;
  time: string;
  kind: string;
  /** Lane index where the arrow starts. */
  from: number;
  /** Lane index where it ends (equal to from for a mark such as exit). */
  to: number;
  label: string;
  /** The message crosses nodes. */
  remote: boolean;
}

/** The lane name of a message from outside any process. */
export const OUTSIDE = '(outside)';

function nodeOf(pid: string): string {
  const i = pid.lastIndexOf('/');
  return i > 0 ? pid.slice(0, i) : pid;
}

function idOf(pid: string): number {
  const n = Number(pid.slice(pid.lastIndexOf('/') + 1));
  return Number.isFinite(n) ? n : 0;
}

/**
 * buildSequence lays trace events out as a sequence diagram across nodes:
 * one lane per process (grouped by node, the outside world first), one row
 * per event in sequence order: sends and receives are arrows from the
 * sender's lane to the receiver's, a spawn an arrow to the new process, an
 * exit a mark on the traced process.
 */
export function buildSequence(events: readonly TraceEvent[]): { lanes: Lane[]; rows: SeqRow[] } {
  const sorted = [...events].sort((a, b) => a.seq - b.seq);
  const pids = new Set<string>();
  for (const e of sorted) {
    pids.add(e.pid || OUTSIDE);
    if (e.kind === 'send' || e.kind === 'receive' || e.kind === 'spawn') {
      pids.add(e.from || OUTSIDE);
      if (e.to) pids.add(e.to);
    }
  }
  const lanes: Lane[] = [...pids]
    .map((pid) => ({ pid, node: pid === OUTSIDE ? '' : nodeOf(pid) }))
    .sort((a, b) => (a.pid === OUTSIDE ? -1 : b.pid === OUTSIDE ? 1 : a.node < b.node ? -1 : a.node > b.node ? 1 : idOf(a.pid) - idOf(b.pid)));
  const index = new Map(lanes.map((l, i) => [l.pid, i]));
  const lane = (pid: string | undefined) => index.get(pid || OUTSIDE) ?? 0;
  const rows: SeqRow[] = sorted.map((e) => {
    let from = lane(e.pid);
    let to = from;
    let label = e.kind;
    switch (e.kind) {
      case 'send':
      case 'receive':
        from = lane(e.from);
        to = lane(e.to || e.pid);
        label = `${e.msg_kind || e.kind}${e.summary ? ` ${e.summary}` : ''}`;
        break;
      case 'spawn':
        to = lane(e.to);
        label = `spawn ${e.to ?? ''}`;
        break;
      case 'exit':
        label = `exit${e.reason ? ` (${e.reason})` : ''}`;
        break;
    }
    const remote = lanes[from] && lanes[to] ? lanes[from].node !== lanes[to].node : false;
    return { seq: e.seq, time: e.time, kind: e.kind, from, to, label, remote };
  });
  return { lanes, rows };
}

/**
 * mergeEvents appends newly fetched events to those kept, without
 * duplicates, in sequence order, keeping at most `max` (the newest).
 */
export function mergeEvents(kept: readonly TraceEvent[], fresh: readonly TraceEvent[], max = 5000): TraceEvent[] {
  const last = kept.length ? kept[kept.length - 1].seq : 0;
  const add = fresh.filter((e) => e.seq > last).sort((a, b) => a.seq - b.seq);
  const out = add.length ? [...kept, ...add] : [...kept];
  return out.length > max ? out.slice(out.length - max) : out;
}
