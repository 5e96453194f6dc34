// Where a run comes from: the palette's runs carry a header so the backend
// records them in the history even when they only read (see the history
// rule of the session operations).

import type { FetchLike } from './client';

/** The header naming the source of a run ("palette"; the CLI sends "cli"). */
export const SOURCE_HEADER = 'X-Clusterlab-Source';

/** withSource wraps a fetch so every request carries SOURCE_HEADER: source. */
export function withSource(fetch: FetchLike, source: string): FetchLike {
  return (input, init = {}) => {
    const headers = { ...((init.headers ?? {}) as Record<string, string>), [SOURCE_HEADER]: source };
    return fetch(input, { ...init, headers });
  };
}
