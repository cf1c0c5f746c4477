// What a network pass changed and skipped, in the few words the metrics use as labels: the kind
// of kernel entry each applied line changes, and a fixed word for each skip reason (plan.ts gives
// sentences naming addresses). Pure, so the reconciler can fill its summary without prom-client.
import type { Changes } from '../network/changes.js';

export type DriftKind = 'route' | 'link' | 'address' | 'neighbour' | 'fdb' | 'rule' | 'chain' | 'other';

const BY_WORD: Readonly<Record<string, DriftKind>> = { route: 'route', link: 'link', addr: 'address', neigh: 'neighbour', fdb: 'fdb', rule: 'rule' };

/** The kind of entry an `ip`/`bridge` batch line changes (its first word), or "chain" for a packet-filter commit (iptables-restore, nft). */
export function driftKind(line: string): DriftKind {
  if (line.startsWith('iptables-restore') || line.startsWith('ip6tables-restore') || line.startsWith('nft ')) return 'chain';
  return BY_WORD[line.slice(0, line.indexOf(' '))] ?? 'other';
}

/** Entries the pass found different, by kind, and how many of them the kernel took. */
export function driftOf(ch: Changes, failed: readonly { line: string }[]): Partial<Record<DriftKind, { found: number; healed: number }>> {
  const out: Partial<Record<DriftKind, { found: number; healed: number }>> = {};
  const add = (kind: DriftKind, found: number, healed: number): void => {
    const e = (out[kind] ??= { found: 0, healed: 0 });
    e.found += found;
    e.healed += healed;
  };
  for (const l of [...ch.ipFirst, ...ch.fdb, ...ch.ipLast, ...ch.rules[4], ...ch.rules[6]]) add(driftKind(l), 1, 1);
  for (let i = 0; i < ch.filter.length; i++) add('chain', 1, 1);
  for (const f of failed) add(driftKind(f.line), 0, -1);
  return out;
}

/** A fixed word for each reason plan.ts gives; a Node object that cannot be read is "unreadable" (reconcile.ts knows those). */
const REASONS: readonly [RegExp, string][] = [
  [/^no podCIDR yet$/, 'no_pod_cidr'],
  [/^podCIDR .* is not a CIDR$/, 'bad_pod_cidr'],
  [/ overlaps this node's podCIDRs$/, 'overlaps_own_pod_cidr'],
  [/ is already routed to node /, 'pod_cidr_taken'],
  [/^its VTEP MAC /, 'vtep_mac_clash'],
  [/^its InternalIP .* is this node's own$/, 'own_internal_ip'],
  [/^no interface here holds its InternalIP /, 'no_underlay'],
  [/^its underlay interface .* cannot be named/, 'bad_underlay_name'],
  [/^no IPv[46] InternalIP/, 'no_internal_ip'],
  [/^no IPv[46] overlay on this node /, 'no_overlay'],
];

export const skipReason = (reason: string): string => REASONS.find(([re]) => re.test(reason))?.[1] ?? 'other';
