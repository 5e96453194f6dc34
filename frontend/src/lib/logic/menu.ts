/** A native menu action of the desktop window (the shell's "menu:action" event). */
export type MenuAction =
  | { kind: 'palette' }
  | { kind: 'connect' }
  | { kind: 'heal' }
  | { kind: 'view'; view: string };

/** The Wails event the desktop shell sends menu actions on (app/desktop.go). */
export const MENU_EVENT = 'menu:action';

/**
 * parseMenuAction reads one menu action ("palette", "connect", "heal",
 * "view:<id>"); anything else (including a view id that is not a plain
 * lower-case word) is null.
 */
export function parseMenuAction(data: unknown): MenuAction | null {
  if (typeof data !== 'string' || data.length > 64) return null;
  switch (data) {
    case 'palette':
    case 'connect':
    case 'heal':
      return { kind: data };
  }
  const m = /^view:([a-z][a-z-]*)$/.exec(data);
  return m ? { kind: 'view', view: m[1] } : null;
}
