// The connect-to-cluster dialog's logic: reading and checking the seeds,
// the gossip key and the profile, building cluster_connect's parameters,
// and telling which way a join failed so the dialog can say what to do.

import type { ApiError } from '../api/errors';
import type { ConnectionProfile, RecentCluster } from './session';

/** The membership profiles a real cluster can use. */
export const CONNECT_PROFILES = ['lan', 'local'] as const;

/** How many seeds cluster_connect takes. */
export const MAX_SEEDS = 64;

/** The dialog's raw input. */
export interface ConnectInput {
  seeds: string;
  label: string;
  key: string;
  profile: string;
  name: string;
  save: boolean;
  saveKey: boolean;
}

/** An empty dialog. */
export function emptyConnect(): ConnectInput {
  return { seeds: '', label: '', key: '', profile: 'lan', name: '', save: true, saveKey: false };
}

/** connectFromProfile fills the dialog from a saved profile or a recent cluster (never a key). */
export function connectFromProfile(p: ConnectionProfile | RecentCluster): ConnectInput {
  const prof = 'name' in p ? p : null;
  return {
    ...emptyConnect(),
    seeds: p.seeds.join(', '),
    label: prof?.label ?? '',
    profile: prof?.profile && (CONNECT_PROFILES as readonly string[]).includes(prof.profile) ? prof.profile : 'lan',
    name: prof ? prof.name : (p as RecentCluster).profile,
  };
}

/** checkSeed returns what is wrong with one host:port seed ('' when it is fine). */
export function checkSeed(seed: string): string {
  let host: string;
  let port: string;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(seed);
  if (v6) {
    host = v6[1];
    port = v6[2];
  } else {
    const i = seed.lastIndexOf(':');
    if (i < 0) return `${seed}: want host:port, e.g. 10.0.0.5:7946`;
    host = seed.slice(0, i);
    port = seed.slice(i + 1);
    if (host.includes(':')) return `${seed}: write an IPv6 address in brackets, e.g. [::1]:7946`;
  }
  if (!host) return `${seed}: the host is missing`;
  if (!/^[A-Za-z0-9._\-:%]+$/.test(host)) return `${seed}: "${host}" is not a host name or address`;
  if (!/^\d+$/.test(port)) return `${seed}: the port "${port}" is not a number`;
  const n = Number(port);
  if (n < 1 || n > 65535) return `${seed}: the port ${n} is outside 1…65535`;
  return '';
}

/** parseSeeds splits the seeds field (commas, spaces or new lines) and checks each one. */
export function parseSeeds(text: string): { seeds: string[]; error: string } {
  const seeds: string[] = [];
  for (const s of text.split(/[\s,;]+/).map((x) => x.trim()).filter(Boolean)) {
    if (!seeds.includes(s)) seeds.push(s);
  }
  if (seeds.length === 0) return { seeds, error: 'give at least one seed: host:port of a member (its gossip address)' };
  if (seeds.length > MAX_SEEDS) return { seeds, error: `at most ${MAX_SEEDS} seeds` };
  for (const s of seeds) {
    const e = checkSeed(s);
    if (e) return { seeds, error: e };
  }
  return { seeds, error: '' };
}

/**
 * checkKey checks a gossip key: base64 of 16, 24 or 32 bytes (AES-128/192/256).
 * '' is fine (no encryption).
 */
export function checkKey(key: string): string {
  const k = key.trim();
  if (!k) return '';
  const std = k.replace(/-/g, '+').replace(/_/g, '/');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(std)) return 'the key is base64 (e.g. from `openssl rand -base64 32`)';
  const unpadded = std.replace(/=+$/, '');
  if (unpadded.length % 4 === 1) return 'the key is not valid base64';
  const bytes = Math.floor((unpadded.length * 3) / 4);
  if (bytes !== 16 && bytes !== 24 && bytes !== 32) {
    return `the key is ${bytes} bytes; a gossip key is 16, 24 or 32 bytes (AES-128/192/256)`;
  }
  return '';
}

/** checkName checks a profile name ('' is fine: the backend names it from the seeds). */
export function checkName(name: string): string {
  const n = name.trim();
  if (!n) return '';
  if (n === 'simulator') return '"simulator" is the simulator\'s mode; pick another name';
  if (n.length > 128) return 'at most 128 characters';
  return '';
}

/** defaultProfileName is the name shown as the placeholder: the first seed's host. */
export function defaultProfileName(seeds: string[]): string {
  const s = seeds[0];
  if (!s) return '';
  const v6 = /^\[([^\]]+)\]/.exec(s);
  return v6 ? v6[1] : s.slice(0, Math.max(0, s.lastIndexOf(':'))) || s;
}

/** The outcome of checking the dialog. */
export interface ConnectCheck {
  ok: boolean;
  errors: Partial<Record<keyof ConnectInput, string>>;
  params: Record<string, unknown>;
}

/** validateConnect checks the dialog and builds cluster_connect's parameters. */
export function validateConnect(input: ConnectInput): ConnectCheck {
  const errors: ConnectCheck['errors'] = {};
  const { seeds, error } = parseSeeds(input.seeds);
  if (error) errors.seeds = error;
  const keyErr = checkKey(input.key);
  if (keyErr) errors.key = keyErr;
  const nameErr = checkName(input.name);
  if (nameErr) errors.name = nameErr;
  if (input.label.length > 256) errors.label = 'at most 256 characters';
  if (!(CONNECT_PROFILES as readonly string[]).includes(input.profile)) errors.profile = 'lan or local';
  if (input.saveKey && !input.key.trim()) errors.saveKey = 'there is no key to remember';
  const params: Record<string, unknown> = { seeds, profile: input.profile };
  if (input.label.trim()) params.label = input.label.trim();
  if (input.key.trim()) params.key = input.key.trim();
  if (input.name.trim()) params.name = input.name.trim();
  if (input.save) params.save = true;
  if (input.save && input.saveKey && input.key.trim()) params.save_key = true;
  return { ok: Object.keys(errors).length === 0, errors, params };
}

/** Which way a join failed. */
export type ConnectFailure = 'key' | 'bad_key' | 'label' | 'unreachable' | 'name_clash' | 'timeout' | 'invalid' | 'other';

/** Words for each failure: a headline and what to do when the backend does not say. */
export const FAILURE_TEXT: Record<ConnectFailure, { title: string; fix: string }> = {
  key: {
    title: 'Wrong gossip key',
    fix: 'the cluster encrypts its gossip with another key (or none): paste the key its agents were started with (--key / --key-file), or leave it empty for an unencrypted cluster',
  },
  bad_key: {
    title: 'That is not a gossip key',
    fix: 'a gossip key is base64 of 16, 24 or 32 bytes (AES-128/192/256), e.g. from `openssl rand -base64 32`',
  },
  label: {
    title: 'Wrong cluster label',
    fix: 'the cluster uses another label: set the label its agents were started with (--label), or leave it empty',
  },
  unreachable: {
    title: 'No seed answered',
    fix: 'check the seed addresses (host:port of a member\'s gossip address, e.g. 127.0.0.2:7946), that the agents run, and that no firewall is in the way',
  },
  name_clash: {
    title: 'Name already in the cluster',
    fix: 'a member of the cluster already uses this observer\'s node name: stop the other observer, or start clusterlab with another node name',
  },
  timeout: {
    title: 'The join timed out',
    fix: 'the seeds did not complete the join in time: check the addresses and the network, then try again',
  },
  invalid: { title: 'Invalid connection settings', fix: 'correct the fields marked in the form' },
  other: { title: 'Connecting failed', fix: '' },
};

/** classifyConnectError tells which way a cluster_connect failed, from its code, details and message. */
export function classifyConnectError(err: Pick<ApiError, 'code' | 'message' | 'details'>): ConnectFailure {
  const reason = String(err.details?.reason ?? err.details?.cause ?? err.details?.kind ?? '');
  const head = `${err.code} ${reason}`.toLowerCase();
  const text = `${head} ${err.message}`.toLowerCase();
  // The specific codes first (the backend's own words), then the messages of cluster.Err*.
  if (/bad[_ ]?key/.test(head)) return 'bad_key';
  if (/key[_ ]?mismatch/.test(head)) return 'key';
  if (/label[_ ]?mismatch/.test(head)) return 'label';
  if (/name[_ ]?clash/.test(head)) return 'name_clash';
  if (/no[_ ]?seed|unreachable/.test(head)) return 'unreachable';
  if (/gossip key mismatch|key[_ ]?mismatch|wrong (gossip )?key|decrypt|keyring|no installed keys/.test(text)) return 'key';
  if (/label[_ ]?mismatch|wrong label|different label/.test(text)) return 'label';
  if (/name[_ ]?clash|name conflict|name .*already (in use|taken)|conflicting name/.test(text)) return 'name_clash';
  if (/no seed answered|no[_ ]?seed|unreachable|connection refused|no such host|could not join|failed to join|cannot reach|dial tcp|no route/.test(text)) return 'unreachable';
  if (/timeout|timed out|deadline/.test(text)) return 'timeout';
  if (err.code === 'invalid_params' || err.code === 'invalid_argument' || err.code === 'bad_request') return 'invalid';
  return 'other';
}
