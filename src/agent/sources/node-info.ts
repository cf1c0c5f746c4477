// A Node object reduced to what the agent needs, validated here once: the name (a DNS-1123
// subdomain), the podCIDRs (networks, one per family, no /0) and the InternalIPs (host addresses).
// A node whose name cannot be read is left out; one whose podCIDRs or InternalIPs cannot be read
// is kept by name but skipped whole (NodeInfo.invalid): no route to it, none of its addresses
// trusted, and the network plan says why. Type-only import: this file stays cheap to load.
import type { V1Node } from '@kubernetes/client-node';
import type { NodeInfo } from '../network/nodes.js';
import { dnsSubdomainProblem, hostIpText, readPodCidr, shown } from './k8s-names.js';

/** A node as read, or none when it cannot even be named; problems say what was wrong. */
export interface NodeReading {
  readonly node?: NodeInfo;
  readonly problems: readonly string[];
}

/** Why a Node's addresses are refused, or its podCIDRs and InternalIPs in canonical text. */
function readAddresses(node: V1Node): { podCIDRs: string[]; internalIPs: string[] } | { problem: string } {
  const spec = node.spec;
  // podCIDRs (dual-stack era) holds podCIDR as its first entry when set; older objects have only podCIDR.
  const given: unknown = spec?.podCIDRs?.length ? spec.podCIDRs : spec?.podCIDR ? [spec.podCIDR] : [];
  if (!Array.isArray(given)) return { problem: `spec.podCIDRs: ${shown(given)}, not a list` };
  const podCIDRs: string[] = [];
  const families = new Set<number>();
  for (const g of given) {
    const r = readPodCidr(g);
    if ('problem' in r) return { problem: `spec.podCIDRs: ${r.problem}` };
    if (families.has(r.cidr.ip.family)) return { problem: `spec.podCIDRs: more than one IPv${r.cidr.ip.family} podCIDR` };
    families.add(r.cidr.ip.family);
    podCIDRs.push(r.text);
  }
  const addresses: unknown = node.status?.addresses ?? [];
  if (!Array.isArray(addresses)) return { problem: `status.addresses: ${shown(addresses)}, not a list` };
  const internalIPs: string[] = [];
  for (const a of addresses as unknown[]) {
    if (typeof a !== 'object' || a === null || (a as { type?: unknown }).type !== 'InternalIP') continue;
    const r = hostIpText((a as { address?: unknown }).address);
    if ('problem' in r) return { problem: `status.addresses: InternalIP ${r.problem}` };
    internalIPs.push(r.text);
  }
  return { podCIDRs, internalIPs };
}

export function readNode(node: V1Node): NodeReading {
  const name = node.metadata?.name;
  const badName = dnsSubdomainProblem(name);
  if (badName) return { problems: [`node ${badName === 'missing' ? '?' : shown(name)}: metadata.name: ${badName} (node ignored)`] };
  const n = name as string;
  const r = readAddresses(node);
  if ('problem' in r) return { node: { name: n, podCIDRs: [], internalIPs: [], invalid: r.problem }, problems: [`node ${n}: ${r.problem} (node skipped)`] };
  return { node: { name: n, ...r }, problems: [] };
}

export const toNodeInfo = (node: V1Node): NodeInfo | undefined => readNode(node).node;
