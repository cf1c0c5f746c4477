// Nodes and pods for the page's unit tests: a node with an agent that answers (or drifted, or is
// unreachable), and a pod with what the server's view gives.
import type { NodeView, PodView } from '../model.js';

export function node(name: string, n: number, over: Partial<{ drift: boolean; down: boolean }> = {}): NodeView {
  return {
    name,
    internalIPs: [`198.18.0.${n}`],
    podCIDRs: [`198.18.${n}.0/24`, `2001:db8:${n}::/64`],
    agent: over.down
      ? { ok: false, error: 'connect ECONNREFUSED' }
      : {
          ok: true,
          at: '2026-01-01T00:00:00Z',
          state: {
            node: name, version: '1', backend: 'vxlan', dataplane: 'iptables', bridge: 'gingham0', devices: [], peers: [], skipped: [], pods: [], events: true,
            kernel: { matches: !over.drift, differences: over.drift ? 3 : 0, checkedAt: '2026-01-01T00:00:00Z' },
          },
        },
  };
}

export function pod(namespace: string, name: string, nodeName: string, over: Partial<PodView> = {}): PodView {
  return { namespace, name, node: nodeName, ips: ['198.18.1.5'], hostNetwork: false, veth: 'veth0123', isolation: { ingress: [], egress: [], cluster: [] }, ...over };
}
