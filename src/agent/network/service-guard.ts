// Service loop prevention (Calico's name for it): a packet to a Service IP that kube-proxy did not
// translate (a port the Service no longer has, an IP no Service holds) has no business leaving the
// node, yet would follow the default route out, to whatever answers there. With the cluster's
// Service CIDRs configured, one chain per family in the filter table rejects it, from pods
// (FORWARD) and from the node itself (OUTPUT). Translated packets never match: kube-proxy's DNAT
// has replaced the Service IP with a pod's by then.
import { word } from '../../kernel/iptables-text.js';
import type { Family } from '../../net/ip.js';
import type { ChainSpec } from './chains.js';

export const GUARD_CHAIN = 'GINGHAM-SVC-GUARD';
export const SERVICE_GUARD: ChainSpec = {
  table: 'filter',
  chain: GUARD_CHAIN,
  jumps: ['FORWARD', 'OUTPUT'].map((from) => ({ from, comment: 'gingham-service-guard' })),
  first: true,
};

/** The chain's rules, exactly as `iptables -S` prints them back. */
export const guardRules = (family: Family, serviceCIDRs: readonly string[]): string[] =>
  [...new Set(serviceCIDRs)].sort().map((c) => `-A ${GUARD_CHAIN} -d ${word(c, 'Service CIDR')} -j REJECT --reject-with ${family === 4 ? 'icmp-port-unreachable' : 'icmp6-port-unreachable'}`);
