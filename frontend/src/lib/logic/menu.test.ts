import { describe, expect, it } from 'vitest';
import { parseMenuAction } from './menu';

describe('parseMenuAction', () => {
  it.each([
    ['palette', { kind: 'palette' }],
    ['connect', { kind: 'connect' }],
    ['heal', { kind: 'heal' }],
    ['view:processes', { kind: 'view', view: 'processes' }],
    ['view:health', { kind: 'view', view: 'health' }],
    ['view:', null],
    ['view:../x', null],
    ['reload', null],
    ['', null],
    [7, null],
    [null, null],
    [{ kind: 'palette' }, null],
    ['view:' + 'a'.repeat(100), null],
  ])('%j -> %j', (data, want) => {
    expect(parseMenuAction(data)).toEqual(want);
  });
});
