import type { OpResult } from '../api/client';
import { groupsFromAssignment, partitionProblem, splitHalf, type Assignment } from '../logic/partition';
import type { ClusterStore } from './cluster.svelte';
import type { Operations } from './operations.svelte';

/**
 * SimulatorStore drives the simulator panel: node lifecycle (crash,
 * restart, stop, add), the partition builder (nodes assigned to groups,
 * applied at once; heal) and per-link latency and loss. Every action runs
 * an operation and then refreshes the cluster so the change shows at once.
 */
export class SimulatorStore {
  #ops: Operations;
  #cluster: ClusterStore;
  #assignment = $state<Assignment>({});
  #groups = $derived(groupsFromAssignment(this.#assignment));
  #problem = $derived(partitionProblem(this.#assignment));

  constructor(ops: Operations, cluster: ClusterStore) {
    this.#ops = ops;
    this.#cluster = cluster;
  }

  /** The builder's assignment of nodes to group numbers. */
  get assignment(): Assignment {
    return this.#assignment;
  }
  /** The groups the builder would apply. */
  get groups(): readonly string[][] {
    return this.#groups;
  }
  /** Why the builder cannot apply ("" when it can). */
  get problem(): string {
    return this.#problem;
  }

  /** assign puts a node into a group (1-based). */
  assign(node: string, group: number): void {
    this.#assignment[node] = group;
  }

  /** resetAssignment puts the given nodes into group 1 (and forgets others). */
  resetAssignment(nodes: string[]): void {
    const next: Assignment = {};
    for (const n of nodes) next[n] = this.#assignment[n] ?? 1;
    this.#assignment = next;
  }

  /** presetHalves splits the nodes into two halves. */
  presetHalves(nodes: string[]): void {
    this.#assignment = splitHalf(nodes);
  }

  async #act<T>(p: Promise<OpResult<T>>): Promise<OpResult<T>> {
    const res = await p;
    // A lifecycle answer carries the node's new simulator state: show it now.
    const v = res.ok ? (res.value as { node?: unknown; sim_state?: unknown } | null) : null;
    if (v && typeof v.node === 'string' && typeof v.sim_state === 'string') {
      this.#cluster.patchNode(v.node, { sim_state: v.sim_state });
    }
    void this.#cluster.refresh();
    return res;
  }

  crash(node: string) {
    return this.#act(this.#ops.run('node_crash', { node }, { confirm: true, key: node, success: `${node} crashed` }));
  }
  restart(node: string) {
    return this.#act(this.#ops.run('node_restart', { node }, { confirm: true, key: node, success: `${node} restarted` }));
  }
  stop(node: string) {
    return this.#act(this.#ops.run('node_stop', { node }, { confirm: true, key: node, success: `${node} stopped` }));
  }
  addNode(name = '') {
    return this.#act(this.#ops.run<{ node?: string }>('node_start', name ? { name } : {}, { success: 'node started' }));
  }
  /** applyPartition splits the network into the builder's groups. */
  applyPartition() {
    return this.#act(this.#ops.run('partition', { groups: this.#groups }, { success: `partitioned into ${this.#groups.length} groups` }));
  }
  heal() {
    return this.#act(this.#ops.run('heal', {}, { success: 'network healed' }));
  }
  setLatency(a: string, b: string, latency: string, jitter: string) {
    return this.#act(this.#ops.run('link_latency', { a, b, latency, jitter: jitter || '0s' }, { success: `latency ${a}↔${b} set to ${latency}` }));
  }
  setLoss(a: string, b: string, p: number) {
    return this.#act(this.#ops.run('link_loss', { a, b, p }, { success: `loss ${a}↔${b} set to ${p}` }));
  }
  cut(from: string, to: string) {
    return this.#act(this.#ops.run('cut', { from, to }, { success: `cut ${from}→${to}` }));
  }
  uncut(from: string, to: string) {
    return this.#act(this.#ops.run('uncut', { from, to }, { success: `uncut ${from}→${to}` }));
  }
}
