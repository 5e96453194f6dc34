// The shapes of the session operations (session_get, projects_list,
// history_list, record_stop, ...) as the UI uses them, and defensive
// readers of the answers: the backend is trusted to be ours, but a field
// that is missing or of the wrong type must not break the page, and every
// list is bounded.

/** The simulator's mode name (session.ModeSimulator). */
export const MODE_SIMULATOR = 'simulator';

/** Bounds the UI applies to what it reads (the store's own bounds, app/session). */
export const MAX_PINS = 1000;
export const MAX_LIST = 1000;
export const MAX_STRING = 4096;
export const MAX_MAP = 200;

/** Pinned processes and names (session.Pins). */
export interface WirePins {
  processes?: string[];
  names?: string[];
  by_name?: Record<string, string>;
  stale?: string[];
  origins?: Record<string, string>;
}

/** The window's state as the session keeps it (session.UIState). */
export interface WireUIState {
  view?: string;
  selection?: string;
  filters?: Record<string, string>;
  sort?: string;
  desc?: boolean;
  pins: WirePins;
  panel_sizes?: Record<string, number>;
  open_traces?: string[];
}

/** A saved connection profile (session.Profile); the key itself is never read by the UI. */
export interface ConnectionProfile {
  name: string;
  seeds: string[];
  label?: string;
  profile?: string;
  key_saved?: boolean;
}

/** A cluster recently connected to (session.RecentCluster). */
export interface RecentCluster {
  profile: string;
  seeds: string[];
  last_used?: string;
}

/** The simulator's settings (session.SimulatorSettings). */
export interface SimulatorSettings {
  nodes: number;
  seed: number;
  fault_preset?: string;
}

/** What a project remembers (session.Session). */
export interface SessionData {
  mode: string;
  simulator: SimulatorSettings;
  connection_profiles: ConnectionProfile[];
  ui: WireUIState;
  recent_clusters: RecentCluster[];
}

/** session_get's result (also project_switch, cluster_connect, cluster_disconnect, mode_switch and the `session` event). */
export interface SessionInfo {
  project: string;
  data_dir: string;
  /** "simulator" or the connection profile's name. */
  mode: string;
  simulated: boolean;
  session: SessionData;
  recording: boolean;
  /** When the recording started (RFC 3339), when the backend says. */
  recording_since?: string;
  /** Why the app is not in the saved mode (e.g. the saved cluster could not be joined), when it says. */
  notice?: string;
  /** The app's node name. */
  observer?: string;
  /** The live connection on a real cluster (null on the simulator). */
  connection?: LiveConnection | null;
}

/** The live connection (session_get's `connection` on a real cluster). */
export interface LiveConnection {
  name: string;
  seeds: string[];
  label?: string;
  profile?: string;
  /** Whether the connection is saved as a profile of the project. */
  saved: boolean;
  key_saved: boolean;
}

/** One project of the store (session.ProjectInfo). */
export interface ProjectInfo {
  name: string;
  workdir?: string;
  created?: string;
  last_opened?: string;
}

/** projects_list's result. */
export interface ProjectList {
  current: string;
  projects: ProjectInfo[];
}

/** One operation run (session.OperationRecord). */
export interface OperationRecord {
  id: number;
  time: string;
  operation: string;
  params: Record<string, unknown>;
  ok: boolean;
  error?: string;
  /** The error code of a failed run. */
  code?: string;
  /** Where the run came from: palette, cli or api. */
  source?: string;
  duration_ms: number;
}

/** record_stop's result. */
export interface RecordResult {
  path: string;
  yaml: string;
  warnings: string[];
}

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
}

/** str reads a bounded string ('' when it is not one). */
export function str(v: unknown, max = MAX_STRING): string {
  return typeof v === 'string' ? v.slice(0, max) : '';
}

function num(v: unknown, fallback = 0): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

/** strList reads a list of non-empty strings, deduplicated, bounded. */
export function strList(v: unknown, max = MAX_LIST): string[] {
  if (!Array.isArray(v)) return [];
  const out: string[] = [];
  const seen = new Set<string>();
  for (const x of v) {
    if (out.length >= max) break;
    const s = str(x);
    if (s && !seen.has(s)) {
      seen.add(s);
      out.push(s);
    }
  }
  return out;
}

/** strMap reads a map of strings (non-string values dropped), bounded. */
export function strMap(v: unknown, max = MAX_MAP): Record<string, string> {
  const out: Record<string, string> = {};
  let n = 0;
  for (const [k, x] of Object.entries(obj(v))) {
    if (n >= max) break;
    if (typeof x === 'string' && k) {
      out[k.slice(0, MAX_STRING)] = x.slice(0, MAX_STRING);
      n++;
    }
  }
  return out;
}

function numMap(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  let n = 0;
  for (const [k, x] of Object.entries(obj(v))) {
    if (n >= MAX_MAP) break;
    if (typeof x === 'number' && Number.isFinite(x) && x >= 0 && k) {
      out[k.slice(0, MAX_STRING)] = x;
      n++;
    }
  }
  return out;
}

/** normalizePins reads session.Pins. */
export function normalizePins(raw: unknown): Required<WirePins> {
  const p = obj(raw);
  return {
    processes: strList(p.processes, MAX_PINS),
    names: strList(p.names, MAX_PINS),
    by_name: strMap(p.by_name, MAX_PINS),
    stale: strList(p.stale, MAX_PINS),
    origins: strMap(p.origins, MAX_PINS),
  };
}

/** normalizeUIState reads session.UIState. */
export function normalizeUIState(raw: unknown): WireUIState {
  const u = obj(raw);
  return {
    view: str(u.view),
    selection: str(u.selection),
    filters: strMap(u.filters),
    sort: str(u.sort),
    desc: u.desc === true,
    pins: normalizePins(u.pins),
    panel_sizes: numMap(u.panel_sizes),
    open_traces: strList(u.open_traces, 100),
  };
}

function normalizeProfile(raw: unknown): ConnectionProfile | null {
  const p = obj(raw);
  const name = str(p.name);
  if (!name) return null;
  return {
    name,
    seeds: strList(p.seeds, 64),
    label: str(p.label) || undefined,
    profile: str(p.profile) || undefined,
    key_saved: p.key_saved === true,
  };
}

function normalizeRecent(raw: unknown): RecentCluster | null {
  const r = obj(raw);
  const profile = str(r.profile);
  if (!profile) return null;
  return { profile, seeds: strList(r.seeds, 64), last_used: str(r.last_used) || undefined };
}

function list<T>(v: unknown, read: (x: unknown) => T | null, max = MAX_LIST): T[] {
  if (!Array.isArray(v)) return [];
  const out: T[] = [];
  for (const x of v) {
    if (out.length >= max) break;
    const t = read(x);
    if (t) out.push(t);
  }
  return out;
}

/** normalizeSession reads session.Session. */
export function normalizeSession(raw: unknown): SessionData {
  const s = obj(raw);
  const sim = obj(s.simulator);
  return {
    mode: str(s.mode) || MODE_SIMULATOR,
    simulator: { nodes: num(sim.nodes), seed: num(sim.seed), fault_preset: str(sim.fault_preset) || undefined },
    connection_profiles: list(s.connection_profiles, normalizeProfile, 100),
    ui: normalizeUIState(s.ui),
    recent_clusters: list(s.recent_clusters, normalizeRecent, 20),
  };
}

/**
 * unwrapInfo finds session_get's payload in an answer or an event: the
 * payload itself, or wrapped as {session: payload} / {result: payload}.
 */
function unwrapInfo(raw: unknown): Obj {
  const o = obj(raw);
  if ('project' in o || 'mode' in o) return o;
  for (const k of ['result', 'data', 'info']) {
    const inner = obj(o[k]);
    if ('project' in inner || 'mode' in inner) return inner;
  }
  return o;
}

/** normalizeSessionInfo reads session_get's result (or the `session` event's payload). */
export function normalizeSessionInfo(raw: unknown): SessionInfo {
  const o = unwrapInfo(raw);
  const session = normalizeSession(o.session);
  const mode = str(o.mode) || session.mode || MODE_SIMULATOR;
  const out: SessionInfo = {
    project: str(o.project),
    data_dir: str(o.data_dir),
    mode,
    simulated: typeof o.simulated === 'boolean' ? o.simulated : mode === MODE_SIMULATOR,
    session,
    recording: o.recording === true,
  };
  const since = str(o.recording_since) || str(o.recording_started_at) || str(o.recording_start);
  if (since) out.recording_since = since;
  const notice = str(o.fallback) || str(o.notice) || str(o.warning);
  if (notice) out.notice = notice;
  if (str(o.observer)) out.observer = str(o.observer);
  const c = obj(o.connection);
  if (str(c.name) || Array.isArray(c.seeds)) {
    out.connection = {
      name: str(c.name),
      seeds: strList(c.seeds, 64),
      label: str(c.label) || undefined,
      profile: str(c.profile) || undefined,
      saved: c.saved === true,
      key_saved: c.key_saved === true,
    };
  } else {
    out.connection = null;
  }
  return out;
}

/** normalizeProjects reads projects_list's result. */
export function normalizeProjects(raw: unknown): ProjectList {
  const o = obj(raw);
  const projects = list(
    o.projects,
    (x) => {
      const p = obj(x);
      const name = str(p.name);
      if (!name) return null;
      return {
        name,
        workdir: str(p.workdir) || undefined,
        created: str(p.created) || undefined,
        last_opened: str(p.last_opened) || undefined,
      };
    },
    500,
  );
  return { current: str(o.current), projects };
}

/** normalizeHistory reads history_list's result, newest first. */
export function normalizeHistory(raw: unknown): OperationRecord[] {
  const o = obj(raw);
  const rows = list(
    Array.isArray(raw) ? raw : (o.records ?? o.history ?? o.entries),
    (x) => {
      const r = obj(x);
      const operation = str(r.operation) || str(r.op) || str(r.name);
      if (!operation) return null;
      return {
        id: num(r.id),
        time: str(r.time),
        operation,
        params: obj(r.params),
        ok: r.ok !== false,
        error: str(r.error) || undefined,
        code: str(r.code) || undefined,
        source: str(r.source) || undefined,
        duration_ms: num(r.duration_ms),
      };
    },
    1000,
  );
  // Newest first whatever order the backend used.
  const t = (r: OperationRecord) => Date.parse(r.time) || 0;
  return rows.sort((a, b) => t(b) - t(a) || b.id - a.id);
}

/** normalizeRecordResult reads record_stop's result. */
export function normalizeRecordResult(raw: unknown): RecordResult {
  const o = obj(raw);
  return {
    path: str(o.path),
    yaml: typeof o.yaml === 'string' ? o.yaml.slice(0, 4 << 20) : '',
    warnings: strList(o.warnings, 200),
  };
}

/** modeLabel is what the UI calls a mode. */
export function modeLabel(mode: string): string {
  return !mode || mode === MODE_SIMULATOR ? 'simulator' : mode;
}
