/** The language used when the page's own is not a valid BCP 47 tag. */
export const FALLBACK_LANGUAGE = 'en-US';

/**
 * isValidLanguage reports whether tag is a language tag Intl accepts.
 * WebKitGTK (the Linux desktop window) reports the POSIX locale
 * "C.UTF-8" as navigator.language "C", which Intl rejects with a
 * RangeError.
 */
export function isValidLanguage(tag: unknown): tag is string {
  if (typeof tag !== 'string' || tag === '') return false;
  try {
    return Intl.getCanonicalLocales(tag).length === 1;
  } catch {
    return false;
  }
}

/** The part of Navigator the guard reads and patches. */
export interface LanguageNavigator {
  language?: string;
  languages?: readonly string[];
}

/**
 * guardLanguage makes nav.language (and nav.languages) valid language tags,
 * replacing invalid ones with FALLBACK_LANGUAGE, so libraries that pass
 * navigator.language to Intl at import time (uPlot does) do not throw. It
 * returns the replaced tag, or null when nothing had to change.
 */
export function guardLanguage(nav: LanguageNavigator | undefined | null): string | null {
  if (!nav || isValidLanguage(nav.language)) return null;
  const bad = String(nav.language);
  const valid = (nav.languages ?? []).filter(isValidLanguage);
  const language = valid[0] ?? FALLBACK_LANGUAGE;
  const languages = Object.freeze(valid.length ? valid : [FALLBACK_LANGUAGE]);
  try {
    Object.defineProperty(nav, 'language', { configurable: true, get: () => language });
    Object.defineProperty(nav, 'languages', { configurable: true, get: () => languages });
  } catch {
    return null;
  }
  return bad;
}
