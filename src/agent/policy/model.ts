// NetworkPolicy as the agent works with it: plain data, validated once at the edge (the Kubernetes
// source converts API objects into these; tests and the scale bench build them by hand). The
// compiler (compile.ts) turns them into a Ruleset; a dataplane (apply.ts: iptables and ipset;
// nft-apply.ts: nftables) makes the kernel match it; `gingham policy explain` evaluates the same
// compiled form.
import { type Chain, type FamilyRules, type Hook, isDispatch } from '../../kernel/packet-filter/model.js';
import type { Family } from '../../net/ip.js';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

/** A label selector: every matchLabels pair and every expression must hold; an empty one selects all. */
export interface LabelSelector {
  readonly matchLabels: Readonly<Record<string, string>>;
  readonly matchExpressions: readonly { readonly key: string; readonly operator: SelectorOperator; readonly values: readonly string[] }[];
}

/** One `from`/`to` entry. Exactly one of ipBlock, or one or both of the selectors (AND). */
export interface PolicyPeer {
  readonly podSelector?: LabelSelector;
  readonly namespaceSelector?: LabelSelector;
  readonly ipBlock?: { readonly cidr: string; readonly except: readonly string[] };
}

/** One `ports` entry: no port means every port of the protocol; a string port is a named port. */
export interface PolicyPort {
  readonly protocol: Protocol;
  readonly port?: number | string;
  /** Only with a numeric port: the range port..endPort. */
  readonly endPort?: number;
}

/** One ingress or egress rule: empty peers means every peer, empty ports every port. */
export interface PolicyRule {
  readonly peers: readonly PolicyPeer[];
  readonly ports: readonly PolicyPort[];
}

/**
 * A NetworkPolicy after policyTypes defaulting: `ingress` is undefined when the policy does not
 * cover ingress (and [] when it covers it and allows nothing); the same for `egress`.
 */
export interface Policy {
  readonly namespace: string;
  readonly name: string;
  readonly podSelector: LabelSelector;
  readonly ingress?: readonly PolicyRule[];
  readonly egress?: readonly PolicyRule[];
}

export interface NamedPort {
  readonly name: string;
  readonly protocol: Protocol;
  readonly port: number;
}

/** A pod that has an address (pods without one are left out at the edge). */
export interface PodInfo {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** status.podIPs, IPv4 first when both. */
  readonly ips: readonly string[];
  /** spec.nodeName. */
  readonly node: string;
  /** hostNetwork pods have their node's address: policies neither select nor isolate them. */
  readonly hostNetwork: boolean;
  /** Every container port with a name. */
  readonly namedPorts: readonly NamedPort[];
}

export interface NamespaceInfo {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

// ---- ClusterNetworkPolicy (policy.networking.k8s.io v1beta1): the cluster admin's tiers. ----

/** Admin rules are checked before NetworkPolicies, Baseline rules after them. */
export type Tier = 'Admin' | 'Baseline';
export const TIERS: readonly Tier[] = ['Admin', 'Baseline'];

/** Pass: Admin hands the packet to NetworkPolicy (then Baseline); Baseline to the default (allow). */
export type ClusterAction = 'Accept' | 'Deny' | 'Pass';

/** Pods by namespace labels (every pod there), or by namespace and pod labels (an empty selector: all). */
export type ClusterPodSelection =
  | { readonly kind: 'namespaces'; readonly namespaces: LabelSelector }
  | { readonly kind: 'pods'; readonly namespaces: LabelSelector; readonly pods: LabelSelector };

/**
 * One `from`/`to` entry. networks match every packet to or from the CIDRs, ICMP included; nodes
 * match the addresses of the nodes whose labels the selector takes (egress only, both);
 * domainNames are read and kept but gingham does not enforce them: they match nothing.
 */
export type ClusterPeer =
  | ClusterPodSelection
  | { readonly kind: 'networks'; readonly cidrs: readonly string[] }
  | { readonly kind: 'nodes'; readonly nodes: LabelSelector }
  | { readonly kind: 'domainNames'; readonly names: readonly string[] };

/** One `protocols` entry: a destination port or range of a protocol, or a named port (its protocol is the pod's). */
export type ClusterPort =
  | { readonly kind: 'port'; readonly protocol: Protocol; readonly port: number; readonly endPort?: number }
  | { readonly kind: 'named'; readonly name: string };

export interface ClusterRule {
  /** The rule's own name, for people (at most 100 characters, free text). */
  readonly name?: string;
  readonly action: ClusterAction;
  /**
   * 'all': every peer. Only the edge's fail-closed reading of a Deny or Pass rule it cannot read
   * makes this; the API needs at least one peer, and [] (every peer of an Accept rule unreadable)
   * matches nothing.
   */
  readonly peers: 'all' | readonly ClusterPeer[];
  /** Undefined: every packet, ICMP included. [] (every entry unreadable): nothing. */
  readonly protocols?: readonly ClusterPort[];
}

/** A ClusterNetworkPolicy as the edge read it. Rules are in written order, which is their order. */
export interface ClusterPolicy {
  readonly name: string;
  readonly tier: Tier;
  /** 0-1000; lower is checked first within the tier (equal: by name, gingham's choice). */
  readonly priority: number;
  readonly subject: ClusterPodSelection;
  readonly ingress: readonly ClusterRule[];
  readonly egress: readonly ClusterRule[];
}

/** A node as a `nodes` peer sees it: its labels and every InternalIP and ExternalIP. */
export interface NodePeerInfo {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly ips: readonly string[];
}

/** Everything the compiler looks at. */
export interface PolicyInputs {
  readonly policies: readonly Policy[];
  readonly pods: readonly PodInfo[];
  readonly namespaces: readonly NamespaceInfo[];
  /** Absent: none. */
  readonly clusterPolicies?: readonly ClusterPolicy[];
  /** The cluster's nodes, for `nodes` peers (absent: none). */
  readonly nodes?: readonly NodePeerInfo[];
}

export type Direction = 'ingress' | 'egress';

// ---- The ruleset: what the dataplane makes true, per family. ----

/**
 * The ruleset in the packet-filter model (kernel/packet-filter/model.ts), the same for every
 * dataplane: per family the address sets (a pod set is 'addrs', an ipBlock's 'nets' with its
 * excepts), the chains (the hook chains first, then the others; none when no local pod is
 * isolated) and the hooks that run them. The iptables applier (apply.ts) and the nftables one
 * (nft-apply.ts) each render it.
 */
export type Ruleset = Readonly<Record<Family, FamilyRules>>;
export type { AddrSet, Chain, Dispatch, DispatchEntry, FamilyRules, Hook, Rule, Step } from '../../kernel/packet-filter/model.js';

/** The ruleset's size in rules as a linear walk has them (a dispatch: one per address), for metrics and logs. */
export const ruleCount = (chains: readonly Chain[]): number => chains.reduce((n, c) => n + c.rules.reduce((m, s) => m + (isDispatch(s) ? s.dispatch.entries.length : 1), 0), 0);

/** Every chain of ours starts with this; the kernel layer removes what it no longer wants by it. */
export const CHAIN_PREFIX = 'GINGHAM-NP';
/** Every ipset of ours starts with this. */
export const SET_PREFIX = 'gingham-np';
/**
 * Jumped to first from FORWARD: routed and (br_netfilter) bridged traffic of local pods. Nothing of
 * NetworkPolicy hooks INPUT or OUTPUT: traffic between a pod and its own node always passes (the
 * API's rule).
 */
export const FORWARD_CHAIN = 'GINGHAM-NP-FORWARD';
/**
 * Jumped to first from INPUT, only while a ClusterNetworkPolicy has egress rules for a local pod:
 * its `nodes` and `networks` peers take in the pod's own node, which FORWARD never sees.
 */
export const INPUT_CHAIN = 'GINGHAM-NP-INPUT';
/** The one-word comment the iptables jumps into the hook chains are found by. */
export const HOOK_COMMENT = 'gingham-policy';
/** Where the kernel runs the hook chains (a family's hooks list those of its chains that exist). */
export const FORWARD_HOOK: Hook = { at: 'forward', chain: FORWARD_CHAIN, comment: HOOK_COMMENT };
export const INPUT_HOOK: Hook = { at: 'input', chain: INPUT_CHAIN, comment: HOOK_COMMENT };
/**
 * The packet mark bit a policy chain sets when one of its rules allows the packet (kube-proxy uses
 * 0x4000 and 0x8000, Calico the upper 16 bits when present; kube-router 0x10000/0x20000 is not
 * run beside us).
 */
export const ALLOW_MARK = 0x20000;
/**
 * Set beside ALLOW_MARK when a ClusterNetworkPolicy rule decided (Accept or Pass): the tier chain
 * stops at the policy that set it. Alone it means Pass: the next tier decides.
 */
export const DECIDED_MARK = 0x40000;
