/** The rows a virtualized list renders. */
export interface VisibleWindow {
  /** First row index rendered. */
  start: number;
  /** One past the last row index rendered. */
  end: number;
  /** Pixels above the first rendered row (the spacer's height). */
  offsetTop: number;
  /** Pixels of the whole list. */
  height: number;
}

/**
 * visibleWindow computes which rows to render for a scroll position: only
 * the rows in view plus `overscan` on each side, so 100 000 rows cost as
 * much as 50.
 */
export function visibleWindow(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  count: number,
  overscan = 8,
): VisibleWindow {
  const height = Math.max(0, count * rowHeight);
  if (count <= 0 || rowHeight <= 0) return { start: 0, end: 0, offsetTop: 0, height };
  const top = Math.max(0, Math.min(scrollTop, Math.max(0, height - viewportHeight)));
  const first = Math.floor(top / rowHeight);
  const visible = Math.ceil(Math.max(viewportHeight, 0) / rowHeight) + 1;
  const start = Math.max(0, first - overscan);
  const end = Math.min(count, first + visible + overscan);
  return { start, end, offsetTop: start * rowHeight, height };
}

/** The paging state of a cursor-paged list: rows are loaded from the start, in order. */
export interface PagingState {
  /** Rows loaded so far (indices 0..loaded-1). */
  loaded: number;
  /** Rows the server says match. */
  total: number;
  /** Cursor for the next page; empty when the last page is loaded. */
  nextCursor: string;
}

/**
 * nextPageRequest says what to fetch so that the rows up to `wantEnd` are
 * loaded: null when nothing is needed (already loaded, or no more pages),
 * otherwise the cursor and how many rows to ask for. A long jump (the user
 * dragged the scrollbar) is covered by one larger page, capped at maxLimit,
 * rather than many small ones.
 */
export function nextPageRequest(
  s: PagingState,
  wantEnd: number,
  pageSize: number,
  maxLimit = 10000,
): { cursor: string; limit: number } | null {
  if (!s.nextCursor) return null;
  const end = Math.min(wantEnd, s.total);
  if (end <= s.loaded) return null;
  const gap = end - s.loaded;
  const limit = Math.min(maxLimit, Math.max(pageSize, Math.ceil(gap / pageSize) * pageSize));
  return { cursor: s.nextCursor, limit };
}

/**
 * refreshLimit is how many rows to reload from the start so that a refresh
 * keeps what the user has scrolled through (at least one page, at most maxLimit).
 */
export function refreshLimit(loaded: number, pageSize: number, maxLimit = 10000): number {
  return Math.min(maxLimit, Math.max(pageSize, Math.ceil(loaded / pageSize) * pageSize));
}
