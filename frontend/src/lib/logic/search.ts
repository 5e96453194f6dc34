import type { OperationSpec } from '../api/types';

/**
 * fuzzyScore scores how well `query` matches `text`: every query character
 * must appear in order (else -1); consecutive runs, word starts and an
 * early first match score higher. Case-insensitive.
 */
export function fuzzyScore(query: string, text: string): number {
  const q = query.toLowerCase();
  const t = text.toLowerCase();
  if (q === '') return 0;
  const direct = t.indexOf(q);
  if (direct >= 0) {
    // A substring: best when it starts the text or a word.
    const wordStart = direct === 0 || /[\s_\-./]/.test(t[direct - 1]);
    return 1000 - direct + (wordStart ? 200 : 0) + q.length * 10;
  }
  let score = 0;
  let ti = 0;
  let run = 0;
  for (const c of q) {
    const found = t.indexOf(c, ti);
    if (found < 0) return -1;
    run = found === ti ? run + 1 : 0;
    const wordStart = found === 0 || /[\s_\-./]/.test(t[found - 1]);
    score += 1 + run * 3 + (wordStart ? 5 : 0);
    ti = found + 1;
  }
  return score;
}

/**
 * searchOperations ranks the catalog for the palette's query: matches on
 * the name count most, then category and summary. Every word of the query
 * must match somewhere. An empty query lists everything by category and name.
 */
export function searchOperations(ops: OperationSpec[], query: string): OperationSpec[] {
  const words = query.trim().toLowerCase().split(/\s+/).filter(Boolean);
  const byName = (a: OperationSpec, b: OperationSpec) =>
    a.category === b.category ? a.name.localeCompare(b.name) : a.category.localeCompare(b.category);
  if (words.length === 0) return [...ops].sort(byName);
  const scored: { op: OperationSpec; score: number }[] = [];
  for (const op of ops) {
    let total = 0;
    let ok = true;
    for (const w of words) {
      const s = Math.max(
        fuzzyScore(w, op.name) * 3,
        fuzzyScore(w, op.category) * 2,
        op.summary.toLowerCase().includes(w) ? 100 : -1,
      );
      if (s < 0) {
        ok = false;
        break;
      }
      total += s;
    }
    if (ok) scored.push({ op, score: total });
  }
  scored.sort((a, b) => b.score - a.score || byName(a.op, b.op));
  return scored.map((s) => s.op);
}
