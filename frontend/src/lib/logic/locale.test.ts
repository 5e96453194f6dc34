import { describe, expect, it } from 'vitest';
import { FALLBACK_LANGUAGE, guardLanguage, isValidLanguage } from './locale';

describe('isValidLanguage', () => {
  it.each([
    ['en-US', true],
    ['de', true],
    ['pt-BR', true],
    ['C', false],
    ['C.UTF-8', false],
    ['', false],
    [undefined, false],
    [42, false],
  ])('%s -> %s', (tag, want) => {
    expect(isValidLanguage(tag)).toBe(want);
  });
});

describe('guardLanguage', () => {
  it('replaces WebKitGTK\'s "C" so Intl works', () => {
    const nav = { language: 'C', languages: ['C'] };
    expect(guardLanguage(nav)).toBe('C');
    expect(nav.language).toBe(FALLBACK_LANGUAGE);
    expect(nav.languages).toEqual([FALLBACK_LANGUAGE]);
    expect(() => new Intl.NumberFormat(nav.language)).not.toThrow();
  });

  it('keeps the first valid entry of languages', () => {
    const nav = { language: 'C', languages: ['C', 'fr-FR', 'en'] };
    guardLanguage(nav);
    expect(nav.language).toBe('fr-FR');
    expect(nav.languages).toEqual(['fr-FR', 'en']);
  });

  it('leaves a valid language alone', () => {
    const nav = { language: 'de-DE', languages: ['de-DE'] };
    expect(guardLanguage(nav)).toBeNull();
    expect(nav.language).toBe('de-DE');
  });

  it('copes with no navigator', () => {
    expect(guardLanguage(undefined)).toBeNull();
    expect(guardLanguage(null)).toBeNull();
  });

  it('patches a getter on the prototype like the real Navigator', () => {
    class Nav {
      get language(): string {
        return 'C';
      }
    }
    const nav = new Nav() as { language: string; languages?: readonly string[] };
    expect(guardLanguage(nav)).toBe('C');
    expect(nav.language).toBe(FALLBACK_LANGUAGE);
  });
});
