// Types of the clusterlab HTTP API, written by hand from the operations
// catalog (GET /api/v1/operations) and the Go types it serialises
// (operations.Spec/Param, cluster.Member, cluster.ProcessInfo, ...).
// Fields the backend may omit are optional.

/** The parameter types of operations.Param.Type. */
export type ParamType =
  | 'string'
  | 'int'
  | 'float'
  | 'bool'
  | 'duration'
  | 'pid'
  | 'node'
  | 'enum'
  | 'list'
  | 'object';

/** One parameter of an operation (operations.Param). */
export interface ParamSpec {
  name: string;
  type: ParamType;
  description?: string;
  required?: boolean;
  default?: unknown;
  min?: number;
  max?: number;
  min_len?: number;
  max_len?: number;
  pattern?: string;
  enum?: string[];
  /** Element type of a list: "node", or "list:node" for a list of lists. */
  items?: string;
  /** A secret (a key, a password): entered in a password field, never shown back. */
  secret?: boolean;
}

/** One operation of the catalog (operations.Spec plus catalog fields). */
export interface OperationSpec {
  name: string;
  category: string;
  summary: string;
  description?: string;
  params: ParamSpec[];
  result?: string;
  destructive?: boolean;
  simulator_only?: boolean;
  /** Where the operation comes from: "builtin" or a script path. */
  source?: string;
  /** False when the operation cannot run on this backend (simulator-only on a real cluster). */
  available?: boolean;
  /** Set for an operation that failed to load (a broken script). */
  load_error?: string;
  /** The run's time bound (ms). */
  timeout_ms?: number;
}

/** An operation that failed to load (operations.LoadFailure). */
export interface LoadFailure {
  name: string;
  source: string;
  error: string;
  time?: string;
}

/** The catalog as the UI uses it. */
export interface Catalog {
  operations: OperationSpec[];
  failures: LoadFailure[];
  /** True when the backend runs the embedded simulator. */
  simulated: boolean;
  version?: number;
}

/** One parameter's validation problem as the server reports it. */
export interface ParamProblem {
  param: string;
  message: string;
}

/** The inside of the error envelope {"error":{code,message,details,remediation}}. */
export interface ApiErrorBody {
  code: string;
  message: string;
  details?: Record<string, unknown>;
  remediation?: string;
}

/** Membership states of cluster.Member.State. */
export type MemberState = 'alive' | 'suspect' | 'dead' | 'left' | string;

/** A member as a node sees it (cluster.Member). */
export interface Member {
  name: string;
  addr?: string;
  role: string;
  state: MemberState;
  tags?: Record<string, string>;
  version?: string;
  since?: string;
  local?: boolean;
  rtt_ns?: number;
}

/**
 * A node as the topology and node list show it: the member plus what the
 * backend adds (process count, what the node itself sees, simulator state).
 */
export interface NodeInfo extends Member {
  processes?: number;
  behaviours?: Record<string, number>;
  /** Members this node sees alive (when the backend can ask it). */
  sees_alive?: string[];
  /** The simulator's view: running, crashed or stopped. */
  sim_state?: string;
}

/**
 * A directed link fact: can `from` reach `to` now. `reachable` is the
 * network's truth when the backend knows it (the simulator), otherwise
 * what `from`'s membership says; `sees_alive` is `from`'s membership view.
 */
export interface Link {
  from: string;
  to: string;
  reachable: boolean;
  sees_alive?: boolean;
  latency_ms?: number;
  loss?: number;
}

/** The cluster topology as the UI draws it. */
export interface Topology {
  nodes: NodeInfo[];
  links: Link[];
  observer?: string;
  simulated: boolean;
  seed?: number;
  /** False when only some links are listed (large clusters, real clusters). */
  links_complete?: boolean;
  missing?: NodeError[];
}

/** What the backend is (GET /api/v1/info). */
export interface BackendInfo {
  version: string;
  observer: string;
  simulated: boolean;
  seed?: number;
  operations_version?: number;
  last_event_id?: number;
}

/** Why one node is missing from a cluster-wide result (cluster.NodeError). */
export interface NodeError {
  node: string;
  code: string;
  state?: string;
  message: string;
}

/** One process (cluster.ProcessInfo). PIDs are "node/id" strings. */
export interface ProcessInfo {
  pid: string;
  node: string;
  name?: string;
  registered?: string[];
  behavior: string;
  status: string;
  mailbox: number;
  mailbox_high_water?: number;
  messages_in: number;
  messages_out: number;
  started_at?: string;
  links?: string[];
  monitors?: string[];
  monitoring?: string[];
  trap_exits?: boolean;
  labels?: Record<string, string>;
}

/** One page of list_processes (cluster.ProcessPage). */
export interface ProcessPage {
  processes: ProcessInfo[];
  total: number;
  next_cursor?: string;
  missing?: NodeError[];
}

/** The sort fields of list_processes (cluster.SortFields). */
export const PROCESS_SORT_FIELDS = [
  'pid',
  'node',
  'name',
  'behavior',
  'status',
  'mailbox',
  'messages_in',
  'messages_out',
  'started_at',
] as const;

/** One of PROCESS_SORT_FIELDS. */
export type ProcessSortField = (typeof PROCESS_SORT_FIELDS)[number];

/** The parameters of list_processes. */
export interface ProcessQuery {
  node?: string;
  behavior?: string;
  name?: string;
  status?: string;
  label?: string;
  sort?: ProcessSortField;
  desc?: boolean;
  limit?: number;
  cursor?: string;
}

/** A server-sent event as the UI receives it. */
export interface ClusterEvent<T = unknown> {
  /** The topic, e.g. "membership", "process:exit", "trace". */
  topic: string;
  /** The event id (SSE id), for resuming. */
  id?: string;
  data: T;
}

/** Resource sample of a node (cluster.Resources), when the health API exists. */
export interface Resources {
  time: string;
  cpu_percent?: number;
  mem_used_percent?: number;
  load1?: number;
  proc_cpu_percent?: number;
  proc_rss?: number;
  goroutines?: number;
}
