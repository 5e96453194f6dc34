/** The sessionStorage key the API token is kept under. */
export const TOKEN_KEY = 'clusterlab.token';

/** The part of Storage the token code needs. */
export interface TokenStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/**
 * resolveToken finds the API token: the page URL's `?token=` wins (and is
 * stored), otherwise the one stored earlier in this browser session.
 * It returns the token and the URL search string without the token, so the
 * caller can take it out of the address bar.
 */
export function resolveToken(
  search: string,
  storage: TokenStorage | null,
): { token: string | null; cleanedSearch: string } {
  const params = new URLSearchParams(search);
  const fromURL = params.get('token');
  if (fromURL) {
    params.delete('token');
    try {
      storage?.setItem(TOKEN_KEY, fromURL);
    } catch {
      // Storage may be disabled; the token still works for this page.
    }
    const rest = params.toString();
    return { token: fromURL, cleanedSearch: rest ? `?${rest}` : '' };
  }
  let stored: string | null = null;
  try {
    stored = storage?.getItem(TOKEN_KEY) ?? null;
  } catch {
    stored = null;
  }
  return { token: stored, cleanedSearch: search };
}
