// Masquerade as data: traffic from this node's pods keeps its source address inside the cluster
// (to any pod CIDR, and to any node's address) and is masqueraded to the node's address everywhere
// else. One chain per family in the nat table, jumped to from POSTROUTING; its rules are compared
// with `iptables -S` and rewritten in one `iptables-restore` when they differ.
import type { Family } from '../../net/ip.js';

export const MASQ_CHAIN = 'GINGHAM-MASQ';
/** The comment of our jump in POSTROUTING: how we find it again (one word: `-S` keeps it unquoted). */
export const MASQ_JUMP = `-A POSTROUTING -m comment --comment gingham-masquerade -j ${MASQ_CHAIN}`;

const MULTICAST: Record<Family, string> = { 4: '224.0.0.0/4', 6: 'ff00::/8' };
const host = (ip: string, family: Family): string => `${ip}/${family === 4 ? 32 : 128}`;

export interface MasqueradeInput {
  readonly family: Family;
  /** This node's pod CIDR of the family: the sources the chain handles. */
  readonly podCIDR: string;
  /** Pod CIDRs traffic to which keeps its source (the cluster CIDRs, or every node's pod CIDR). */
  readonly keepTo: readonly string[];
  /** Every node's address of the family (InternalIPs): pod to node keeps its source too. */
  readonly nodeIPs: readonly string[];
}

/** The chain's rules, exactly as `iptables -S MASQ_CHAIN` prints them back. */
export function masqueradeRules(m: MasqueradeInput): string[] {
  const rule = (match: string, target: string): string => `-A ${MASQ_CHAIN} -s ${m.podCIDR} ${match} -j ${target}`;
  return [
    ...[...new Set(m.keepTo)].sort().map((c) => rule(`-d ${c}`, 'RETURN')),
    ...[...new Set(m.nodeIPs)].sort().map((ip) => rule(`-d ${host(ip, m.family)}`, 'RETURN')),
    rule(`! -d ${MULTICAST[m.family]}`, 'MASQUERADE'),
  ];
}

/** Our part of the nat table as read back: the chain's rules and whether the jump is there. */
export interface MasqueradeState {
  readonly chain: string[] | undefined;
  readonly jump: boolean;
}

/** From `iptables -t nat -S` (every rule of the table): our chain (undefined if absent) and jump. */
export function parseMasquerade(lines: readonly string[]): MasqueradeState {
  const exists = lines.includes(`-N ${MASQ_CHAIN}`);
  return {
    chain: exists ? lines.filter((l) => l.startsWith(`-A ${MASQ_CHAIN} `)) : undefined,
    jump: lines.includes(MASQ_JUMP),
  };
}

/**
 * The `iptables-restore --noflush` text that makes the kernel match `want` (undefined: remove the
 * chain and its jump), or "" when it already does. Declaring the chain flushes it, so the new rules
 * replace the old ones in one commit: no moment without masquerade, none with both.
 */
export function masqueradeRestore(want: readonly string[] | undefined, have: MasqueradeState): string {
  if (want === undefined) {
    if (have.chain === undefined && !have.jump) return '';
    const lines = ['*nat'];
    if (have.jump) lines.push(MASQ_JUMP.replace(/^-A/, '-D'));
    if (have.chain !== undefined) lines.push(`:${MASQ_CHAIN} - [0:0]`, `-X ${MASQ_CHAIN}`);
    return `${[...lines, 'COMMIT'].join('\n')}\n`;
  }
  const same = have.chain !== undefined && have.chain.length === want.length && have.chain.every((l, i) => l === want[i]);
  if (same && have.jump) return '';
  const lines = ['*nat', `:${MASQ_CHAIN} - [0:0]`, ...want];
  if (!have.jump) lines.push(MASQ_JUMP);
  return `${[...lines, 'COMMIT'].join('\n')}\n`;
}
