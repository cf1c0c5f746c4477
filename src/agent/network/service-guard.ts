// Service loop prevention (Calico's name for it): a packet to a Service IP that kube-proxy did not
// translate (a port the Service no longer has, an IP no Service holds) has no business leaving the
// node, yet would follow the default route out, to whatever answers there. With the cluster's
// Service CIDRs configured, one chain per family rejects it, from pods (forward) and from the node
// itself (output). Translated packets never match: kube-proxy's DNAT has replaced the Service IP
// with a pod's by then.
import type { Hook, Rule } from '../../kernel/packet-filter/model.js';

export const GUARD_CHAIN = 'GINGHAM-SVC-GUARD';
export const GUARD_HOOKS: readonly Hook[] = (['forward', 'output'] as const).map((at) => ({ at, chain: GUARD_CHAIN, comment: 'gingham-service-guard' }));

/** The chain's rules: reject (port unreachable) what is still addressed to a Service CIDR. */
export const guardRules = (serviceCIDRs: readonly string[]): Rule[] =>
  [...new Set(serviceCIDRs)].sort().map((cidr) => ({ dst: { cidr }, action: { kind: 'reject', with: 'port-unreachable' } }));
