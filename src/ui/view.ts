// The page's picture of the cluster (ClusterView), joined from what the API server says (nodes,
// pods, policies) and what each node's agent last answered on /state (its tunnels or routes,
// bridge ports, isolation). Pure: the server calls it whenever either side changed, tests call it
// with plain objects.
import type { NodeInfo } from '../agent/network/nodes.js';
import type { PolicyInputs } from '../agent/policy/model.js';
import { podKey } from '../agent/policy/resolve.js';
import type { AgentState, ClusterView, LinkView, NodeView, PodView } from './model.js';

export type AgentStatus = NodeView['agent'];

export interface ViewSources {
  /** Every node as the API server has it (KubernetesNodes); empty before its first list. */
  readonly nodes: readonly NodeInfo[];
  /** Pods, namespaces and policies; undefined until every collection has listed once. */
  readonly inputs: PolicyInputs | undefined;
  /** Each node's agent by node name; a node not in it has not been asked yet. */
  readonly agents: ReadonlyMap<string, AgentStatus>;
  readonly now: Date;
}

const NOT_ASKED: AgentStatus = { ok: false, error: 'not asked yet' };
const NOT_ISOLATED: PodView['isolation'] = { ingress: [], egress: [], cluster: [] };

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The tunnels or routes one node's agent planned to the others' pod CIDRs. */
function linksOf(from: string, state: AgentState): LinkView[] {
  return state.peers.map((p) => {
    const family = p.podCIDR.includes(':') ? 6 : 4;
    if (p.dev === undefined) return { from, to: p.node, kind: 'host-gw', family, podCIDR: p.podCIDR, via: p.via };
    const device = state.devices.find((d) => d.name === p.dev);
    return {
      from,
      to: p.node,
      kind: 'vxlan',
      family,
      podCIDR: p.podCIDR,
      via: p.via,
      dev: p.dev,
      ...(p.vtepMac !== undefined ? { vtepMac: p.vtepMac } : {}),
      ...(device ? { mtu: device.mtu } : {}),
    };
  });
}

export function buildView(s: ViewSources): ClusterView {
  const nodes: NodeView[] = [...s.nodes]
    .sort((a, b) => compare(a.name, b.name))
    .map((n) => ({
      name: n.name,
      internalIPs: n.internalIPs,
      podCIDRs: n.podCIDRs,
      ...(n.invalid !== undefined ? { unreadable: n.invalid } : {}),
      agent: s.agents.get(n.name) ?? NOT_ASKED,
    }));
  const states = new Map(nodes.flatMap((n) => (n.agent.ok ? [[n.name, n.agent.state] as const] : [])));
  const links = [...states].flatMap(([name, state]) => linksOf(name, state));
  const pods: PodView[] = (s.inputs?.pods ?? []).map((p) => {
    const state = states.get(p.node);
    const key = podKey(p);
    const local = state?.pods.find((l) => l.namespace === p.namespace && l.name === p.name);
    const iso = state?.isolation?.find((i) => i.pod === key);
    return {
      namespace: p.namespace,
      name: p.name,
      node: p.node,
      ips: p.ips,
      hostNetwork: p.hostNetwork,
      ...(local ? { veth: local.veth } : {}),
      isolation: iso ? { ingress: iso.ingress, egress: iso.egress, cluster: iso.cluster } : NOT_ISOLATED,
    };
  });
  return { generatedAt: s.now.toISOString(), nodes, links, pods };
}

/**
 * What a view is, without when it was made, when each agent last answered and when it last
 * checked its kernel: two views with the same key show the same, so the stream sends a view only
 * when this changes.
 */
export function viewKey(v: ClusterView): string {
  return JSON.stringify({ ...v, generatedAt: '', nodes: v.nodes.map((n) => (n.agent.ok ? { ...n, agent: { ...n.agent, at: '', state: { ...n.agent.state, kernel: { ...n.agent.state.kernel, checkedAt: '' } } } } : n)) });
}
