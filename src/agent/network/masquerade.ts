// Masquerade as data: traffic from this node's pods keeps its source address inside the cluster
// (to any pod CIDR, and to any node's address) and is masqueraded to the node's address everywhere
// else. One chain per family, run at postrouting after kube-proxy's own masquerade (chains.ts
// gathers it with the service guard; the chosen packet-filter backend writes it).
import type { Family } from '../../net/ip.js';
import type { Hook, Rule } from '../../kernel/packet-filter/model.js';

export const MASQ_CHAIN = 'GINGHAM-MASQ';
export const MASQ_HOOK: Hook = { at: 'postrouting', chain: MASQ_CHAIN, comment: 'gingham-masquerade' };

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

/** The chain's rules: keep the source to the cluster and the nodes, masquerade the rest (not multicast). */
export function masqueradeRules(m: MasqueradeInput): Rule[] {
  const src = { cidr: m.podCIDR };
  const keep = (cidr: string): Rule => ({ src, dst: { cidr }, action: { kind: 'return' } });
  return [
    ...[...new Set(m.keepTo)].sort().map(keep),
    ...[...new Set(m.nodeIPs)].sort().map((ip) => keep(host(ip, m.family))),
    { src, dst: { cidr: MULTICAST[m.family], not: true }, action: { kind: 'masquerade' } },
  ];
}
