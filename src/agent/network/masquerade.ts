// Masquerade as data: traffic from this node's pods keeps its source address inside the cluster
// (to any pod CIDR, and to any node's address) and is masqueraded to the node's address everywhere
// else. One chain per family in the nat table, jumped to from POSTROUTING (chains.ts applies it).
import { word } from '../../kernel/iptables-text.js';
import type { Family } from '../../net/ip.js';
import type { ChainSpec } from './chains.js';

export const MASQ_CHAIN = 'GINGHAM-MASQ';
export const MASQUERADE: ChainSpec = {
  table: 'nat',
  chain: MASQ_CHAIN,
  jumps: [{ from: 'POSTROUTING', comment: 'gingham-masquerade' }],
  first: false,
};

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
  const rule = (match: string, target: string): string => `-A ${MASQ_CHAIN} -s ${word(m.podCIDR, 'pod CIDR')} ${match} -j ${target}`;
  return [
    ...[...new Set(m.keepTo)].sort().map((c) => rule(`-d ${word(c, 'pod CIDR')}`, 'RETURN')),
    ...[...new Set(m.nodeIPs)].sort().map((ip) => rule(`-d ${word(host(ip, m.family), 'node address')}`, 'RETURN')),
    rule(`! -d ${MULTICAST[m.family]}`, 'MASQUERADE'),
  ];
}
