/**
 * The partition builder's model: every node is assigned to a group number
 * (1, 2, ...); applying sends the groups to the partition operation.
 */
export type Assignment = Record<string, number>;

/**
 * groupsFromAssignment turns an assignment into the partition operation's
 * groups, in group-number order, each sorted by name; empty groups vanish.
 */
export function groupsFromAssignment(assign: Assignment): string[][] {
  const byGroup = new Map<number, string[]>();
  for (const [node, g] of Object.entries(assign)) {
    if (!Number.isInteger(g) || g < 1) continue;
    const list = byGroup.get(g) ?? [];
    list.push(node);
    byGroup.set(g, list);
  }
  return [...byGroup.entries()].sort((a, b) => a[0] - b[0]).map(([, names]) => names.sort());
}

/**
 * partitionProblem says why an assignment cannot be applied ("" when it
 * can): a partition needs at least two non-empty groups.
 */
export function partitionProblem(assign: Assignment): string {
  const groups = groupsFromAssignment(assign);
  if (groups.length < 2) return 'put the nodes into at least two groups to split the network';
  return '';
}

/** assignmentFromGroups is the builder's starting point for a known split. */
export function assignmentFromGroups(nodes: string[], groups: string[][]): Assignment {
  const out: Assignment = {};
  for (const n of nodes) out[n] = 1;
  groups.forEach((g, i) => {
    for (const n of g) if (n in out) out[n] = i + 1;
  });
  return out;
}

/** splitHalf is a quick preset: the first half of the nodes against the rest. */
export function splitHalf(nodes: string[]): Assignment {
  const sorted = [...nodes].sort();
  const half = Math.ceil(sorted.length / 2);
  const out: Assignment = {};
  sorted.forEach((n, i) => {
    out[n] = i < half ? 1 : 2;
  });
  return out;
}
