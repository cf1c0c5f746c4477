// IPAM fill on this node, read at scrape time: the reservations in the IPAM data dir (through the
// IPAM's own Store, as local-pods.ts does) against the ranges of the conflist the agent wrote
// (through the IPAM's own config parser). A network in the data dir whose config the agent does
// not know (gingham IPAM under another main plugin) still shows its used addresses, under range "".
import { readFileSync, readdirSync } from 'node:fs';
import { allocatable, rangeOf } from '../../ipam/allocator.js';
import { type IpamConfig, type Range, parseIpamConfig } from '../../ipam/config.js';
import { Store } from '../../ipam/store.js';
import { type Cidr, contains, formatCidr, lastOf, networkOf, parseCidr } from '../../net/ip.js';
import { metrics } from './registry.js';

export interface KnownNetwork {
  readonly network: string;
  readonly ipam: IpamConfig;
}

export interface RangeUsage {
  readonly network: string;
  /** The range's subnet; "" for addresses in no known range. */
  readonly range: string;
  readonly used: number;
  /** Undefined when the range is not known. */
  readonly free?: number;
}

/** The gingham IPAM networks of a conflist file; none when it is missing or not one. */
export function networksOfConflist(path: string): KnownNetwork[] {
  if (path === '') return [];
  try {
    const conf = JSON.parse(readFileSync(path, 'utf8')) as { name?: unknown; plugins?: unknown };
    if (typeof conf.name !== 'string' || !Array.isArray(conf.plugins)) return [];
    const out: KnownNetwork[] = [];
    for (const p of conf.plugins as { ipam?: { type?: unknown } }[]) {
      if (p?.ipam?.type === 'gingham') out.push({ network: conf.name, ipam: parseIpamConfig(p.ipam as Record<string, unknown>) });
    }
    return out;
  } catch {
    return [];
  }
}

/** How many addresses of the range may be handed out at all (its span less network, gateway, broadcast and excluded). */
export function allocatableCount(r: Range, exclude: readonly Cidr[]): number {
  const excludedSpan = (c: Cidr): bigint => {
    const from = networkOf(c).value > r.start.value ? networkOf(c).value : r.start.value;
    const to = lastOf(c).value < r.end.value ? lastOf(c).value : r.end.value;
    return to >= from ? to - from + 1n : 0n;
  };
  let n = r.end.value - r.start.value + 1n;
  for (const c of exclude) n -= excludedSpan(c);
  // The addresses allocatable() refuses besides excludes, each once, when in the span and not excluded already.
  const special = new Set([r.subnet.ip.value, r.gateway.value, ...(r.subnet.ip.family === 4 ? [lastOf(r.subnet).value] : [])]);
  for (const v of special) {
    const ip = { family: r.start.family, value: v };
    if (v >= r.start.value && v <= r.end.value && !exclude.some((c) => contains(c, ip)) && !allocatable(r, ip, exclude)) n -= 1n;
  }
  return Number(n > 0n ? n : 0n);
}

/** Used and free addresses per network and range in the data dir. */
export function ipamUsage(dataDir: string, known: readonly KnownNetwork[]): RangeUsage[] {
  const rows = new Map<string, { network: string; range: string; used: number; size?: number }>();
  const row = (network: string, range: string): { used: number; size?: number } => {
    const key = `${network}\n${range}`;
    let r = rows.get(key);
    if (!r) rows.set(key, (r = { network, range, used: 0 }));
    return r;
  };
  // Every known range shows, also while empty.
  for (const k of known) {
    for (const set of k.ipam.rangeSets) {
      for (const r of set) {
        const x = row(k.network, formatCidr(r.subnet));
        x.size = (x.size ?? 0) + allocatableCount(r, k.ipam.exclude);
      }
    }
  }
  let networks: string[] = [];
  try {
    networks = readdirSync(dataDir);
  } catch {
    // No pod wired on this node yet.
  }
  for (const network of networks) {
    const cfg = known.find((k) => k.network === network)?.ipam;
    for (const res of new Store(dataDir, network).list()) {
      for (const text of res.ips) {
        const ip = typeof text === 'string' ? parseCidr(text)?.ip : undefined;
        const range = ip && cfg ? cfg.rangeSets.map((s) => rangeOf(s, ip, [])).find((r) => r !== undefined) : undefined;
        row(network, range ? formatCidr(range.subnet) : '').used++;
      }
    }
  }
  return [...rows.values()].map((r) => ({ network: r.network, range: r.range, used: r.used, ...(r.size !== undefined ? { free: Math.max(r.size - r.used, 0) } : {}) }));
}

/** Sets gingham_ipam_addresses from the data dir and the conflist at `conflistPath`. */
export function collectIpamUsage(dataDir: string, conflistPath: string): void {
  const g = metrics.ipamAddresses;
  g.reset();
  for (const u of ipamUsage(dataDir, networksOfConflist(conflistPath))) {
    g.set({ network: u.network, range: u.range, state: 'used' }, u.used);
    if (u.free !== undefined) g.set({ network: u.network, range: u.range, state: 'free' }, u.free);
  }
}
