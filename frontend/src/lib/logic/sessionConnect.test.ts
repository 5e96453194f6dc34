import { describe, expect, it } from 'vitest';
import {
  checkKey,
  checkSeed,
  classifyConnectError,
  connectFromProfile,
  defaultProfileName,
  emptyConnect,
  parseSeeds,
  validateConnect,
} from './sessionConnect';

describe('seeds', () => {
  it.each([
    ['10.0.0.5:7946', ''],
    ['node-a.svc.cluster.local:7946', ''],
    ['[::1]:7946', ''],
    ['10.0.0.5', 'want host:port'],
    [':7946', 'the host is missing'],
    ['host:http', 'is not a number'],
    ['host:70000', 'outside 1…65535'],
    ['::1:7946', 'in brackets'],
    ['ho st:1', 'not a host name'],
  ])('%s', (seed, want) => {
    const got = checkSeed(seed);
    if (want) expect(got).toContain(want);
    else expect(got).toBe('');
  });

  it('splits on commas, spaces and lines, without duplicates', () => {
    expect(parseSeeds('a:1, b:2\nc:3 a:1')).toEqual({ seeds: ['a:1', 'b:2', 'c:3'], error: '' });
    expect(parseSeeds('  ').error).toContain('at least one seed');
    expect(parseSeeds('a:1, nope').error).toContain('nope');
  });

  it('names the profile after the first seed', () => {
    expect(defaultProfileName(['10.0.0.5:7946', 'x:1'])).toBe('10.0.0.5');
    expect(defaultProfileName(['[::1]:7946'])).toBe('::1');
    expect(defaultProfileName([])).toBe('');
  });
});

describe('gossip key', () => {
  it('accepts 16, 24 and 32 bytes of base64 and nothing', () => {
    expect(checkKey('')).toBe('');
    expect(checkKey(btoa('0123456789abcdef'))).toBe('');
    expect(checkKey(btoa('0123456789abcdef01234567'))).toBe('');
    expect(checkKey(btoa('0123456789abcdef0123456789abcdef'))).toBe('');
  });
  it('refuses other sizes and non-base64', () => {
    expect(checkKey(btoa('short'))).toContain('5 bytes');
    expect(checkKey('not base64!')).toContain('base64');
  });
});

describe('validateConnect', () => {
  it('builds cluster_connect params; the key is saved only when asked and with the profile', () => {
    const key = btoa('0123456789abcdef');
    const v = validateConnect({ ...emptyConnect(), seeds: '127.0.0.2:7946', key, label: 'shop', name: 'dev', saveKey: true });
    expect(v.ok).toBe(true);
    expect(v.params).toEqual({ seeds: ['127.0.0.2:7946'], profile: 'lan', label: 'shop', key, name: 'dev', save: true, save_key: true });
    const noSave = validateConnect({ ...emptyConnect(), seeds: '127.0.0.2:7946', key, save: false, saveKey: true });
    expect(noSave.params.save_key).toBeUndefined();
    expect(noSave.params.save).toBeUndefined();
  });
  it('remember-key is off by default and the key is never saved then', () => {
    const v = validateConnect({ ...emptyConnect(), seeds: 'a:1', key: btoa('0123456789abcdef') });
    expect(emptyConnect().saveKey).toBe(false);
    expect(v.params.save_key).toBeUndefined();
  });
  it('reports every bad field', () => {
    const v = validateConnect({ ...emptyConnect(), seeds: 'nope', key: 'xx', name: 'simulator', profile: 'wan', saveKey: true });
    expect(v.ok).toBe(false);
    expect(Object.keys(v.errors).sort()).toEqual(['key', 'name', 'profile', 'seeds']);
  });
  it('fills in from a profile without a key', () => {
    expect(connectFromProfile({ name: 'prod', seeds: ['a:1', 'b:2'], label: 'shop', profile: 'local', key_saved: true })).toMatchObject({
      seeds: 'a:1, b:2',
      label: 'shop',
      profile: 'local',
      name: 'prod',
      key: '',
    });
    expect(connectFromProfile({ profile: 'old', seeds: ['a:1'] }).name).toBe('old');
  });
});

describe('classifyConnectError', () => {
  it.each([
    [{ code: 'unprocessable', message: 'joining 127.0.0.2:7946: cluster: gossip key mismatch', details: { reason: 'key_mismatch' } }, 'key'],
    [{ code: 'unprocessable', message: 'the seeds hung up', details: { reason: 'label_mismatch' } }, 'label'],
    [{ code: 'conflict', message: 'cluster: node name clash', details: { reason: 'name_clash' } }, 'name_clash'],
    [{ code: 'node_unreachable', message: 'no seed answered within 10s: 127.0.0.9:1', details: { reason: 'no_seed' } }, 'unreachable'],
    [{ code: 'invalid_params', message: 'bad key', details: { reason: 'bad_key' } }, 'bad_key'],
    [{ code: 'internal', message: 'cluster: gossip key mismatch', details: {} }, 'key'],
    [{ code: 'internal', message: 'cluster: no seed answered', details: {} }, 'unreachable'],
    [{ code: 'timeout', message: 'join timed out', details: {} }, 'timeout'],
    [{ code: 'invalid_params', message: 'seeds: want host:port', details: {} }, 'invalid'],
    [{ code: 'internal', message: 'boom', details: {} }, 'other'],
  ])('%j → %s', (err, want) => {
    expect(classifyConnectError(err)).toBe(want);
  });
});
