// Imported first by main.ts, before any library: WebKitGTK (the Linux
// desktop window) reports the "C.UTF-8" locale as navigator.language "C",
// and uPlot calls new Intl.NumberFormat(navigator.language) when its module
// loads, which throws a RangeError and leaves the window blank.
import { guardLanguage } from './lib/logic/locale';

if (typeof navigator !== 'undefined') {
  const bad = guardLanguage(navigator);
  if (bad !== null) console.warn(`clusterlab: invalid navigator.language ${JSON.stringify(bad)}; using ${navigator.language}`);
}
