// A Node object reduced to what the agent needs. Type-only import: this file stays cheap to load.
import type { V1Node } from '@kubernetes/client-node';
import type { NodeInfo } from '../network/nodes.js';

export function toNodeInfo(node: V1Node): NodeInfo | undefined {
  const name = node.metadata?.name;
  if (!name) return undefined;
  const spec = node.spec;
  // podCIDRs (dual-stack era) holds podCIDR as its first entry when set; older objects have only podCIDR.
  const podCIDRs = spec?.podCIDRs?.length ? [...spec.podCIDRs] : spec?.podCIDR ? [spec.podCIDR] : [];
  const internalIPs = (node.status?.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => a.address);
  return { name, podCIDRs, internalIPs };
}
