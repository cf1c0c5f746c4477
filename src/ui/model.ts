// The live class view's data, as JSON between its three parts: each agent's read-only /state
// (beside /metrics), the `gingham ui` server that joins the agents with the API server, and the
// page. Plain types only: the agent, the server and the browser bundle all import this file.
import type { VerdictEvent } from '../agent/verdicts/enrich.js';

export type { VerdictEvent };

/** A VXLAN device of a node (one per family). */
export interface DeviceState {
  readonly name: string;
  readonly family: 4 | 6;
  readonly vni: number;
  /** The VTEP's MAC and its address on the overlay. */
  readonly mac: string;
  readonly vtep: string;
  /** The underlay address the tunnel leaves from, and its UDP port. */
  readonly local: string;
  readonly port: number;
  readonly mtu: number;
}

/** How this node reaches another node's pod CIDR: through the overlay or straight over the underlay. */
export interface PeerState {
  readonly node: string;
  readonly podCIDR: string;
  readonly nodeIP: string;
  /** The next hop of the route to podCIDR (a VTEP address, or the node's InternalIP for host-gw). */
  readonly via: string;
  /** The VXLAN device the route leaves by; absent for a direct (host-gw) route. */
  readonly dev?: string;
  readonly vtep?: string;
  readonly vtepMac?: string;
}

/** A pod this node's IPAM reserved addresses for. */
export interface LocalPodState {
  readonly namespace: string;
  readonly name: string;
  /** Canonical addresses without prefix length. */
  readonly ips: readonly string[];
  /** The host end of its veth, on the bridge. */
  readonly veth: string;
}

/** The policies that isolate one pod of this node, as the agent's last compiled view has them. */
export interface IsolationState {
  /** "namespace/name". */
  readonly pod: string;
  /** The NetworkPolicies isolating it in each direction, "NS/NAME" (as verdict events and explain name them). */
  readonly ingress: readonly string[];
  readonly egress: readonly string[];
  /** ClusterNetworkPolicies whose subject selects the pod. */
  readonly cluster: readonly string[];
}

/** GET /state on an agent's metrics port: what it last planned and enforced. No secrets. */
export interface AgentState {
  readonly node: string;
  readonly version: string;
  readonly backend: 'vxlan' | 'host-gw';
  readonly dataplane: 'iptables' | 'nftables';
  /** The pods' MTU; absent: the kernel's default. */
  readonly mtu?: number;
  /** The bridge the pods' veths are on (from the conflist the agent wrote). */
  readonly bridge: string;
  readonly devices: readonly DeviceState[];
  readonly peers: readonly PeerState[];
  /** Nodes the plan left out, and why. */
  readonly skipped: readonly { readonly node: string; readonly reason: string }[];
  readonly pods: readonly LocalPodState[];
  /** Absent when networkPolicy is off or before the first policy pass. */
  readonly isolation?: readonly IsolationState[];
  /** The kernel against the plan, checked at most every few seconds. */
  readonly kernel: { readonly matches: boolean; readonly differences: number; readonly checkedAt: string; readonly error?: string };
  /** Whether verdict events are on (policyLogDrops or policyLogAccepts). */
  readonly events: boolean;
}

/** One node on the page: the API's view, with its agent's state when the agent answered. */
export interface NodeView {
  readonly name: string;
  readonly internalIPs: readonly string[];
  readonly podCIDRs: readonly string[];
  /** Why the Node object's podCIDRs or InternalIPs could not be read (the agents skip such a node). */
  readonly unreadable?: string;
  /** The agent's state, or why there is none. */
  readonly agent: { readonly ok: true; readonly state: AgentState; readonly at: string } | { readonly ok: false; readonly error: string };
}

/** A tunnel or route between two nodes (from `from`'s plan). */
export interface LinkView {
  readonly from: string;
  readonly to: string;
  readonly kind: 'vxlan' | 'host-gw';
  readonly family: 4 | 6;
  readonly podCIDR: string;
  readonly via: string;
  readonly dev?: string;
  readonly vtepMac?: string;
  readonly mtu?: number;
}

export interface PodView {
  readonly namespace: string;
  readonly name: string;
  readonly node: string;
  readonly ips: readonly string[];
  readonly hostNetwork: boolean;
  /** From the node's agent. */
  readonly veth?: string;
  /** Empty lists: not isolated in that direction. */
  readonly isolation: { readonly ingress: readonly string[]; readonly egress: readonly string[]; readonly cluster: readonly string[] };
}

/** GET /api/view, and the data of each `event: view` of /api/stream. */
export interface ClusterView {
  readonly generatedAt: string;
  readonly nodes: readonly NodeView[];
  readonly links: readonly LinkView[];
  readonly pods: readonly PodView[];
}

/** GET /api/explain?from=NS/POD&to=NS/POD&port=N&protocol=TCP: the same answer as `gingham policy explain`. */
export interface ExplainAnswer {
  readonly allowed: boolean;
  /** `gingham policy explain`'s text output, line for line. */
  readonly text: string;
  /** `gingham policy explain --json`'s object. */
  readonly json: unknown;
}

/** The data of each `event: verdict` of /api/stream: a verdict event and the node whose agent saw it. */
export interface VerdictMessage {
  readonly node: string;
  readonly event: VerdictEvent;
}
