// NetworkPolicy as the agent works with it: plain data, validated once at the edge (the Kubernetes
// source converts API objects into these; tests and the scale bench build them by hand). The
// compiler (compile.ts) turns them into a Ruleset; the kernel layer (apply.ts) makes iptables and
// ipset match it; `gingham policy explain` evaluates the same compiled form.
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

/** Everything the compiler looks at. */
export interface PolicyInputs {
  readonly policies: readonly Policy[];
  readonly pods: readonly PodInfo[];
  readonly namespaces: readonly NamespaceInfo[];
}

export type Direction = 'ingress' | 'egress';

// ---- The ruleset: what the kernel layer makes true, per family. ----

/** An ipset: `hash:net` entries are CIDRs, optionally followed by " nomatch" (ipBlock except). */
export interface IpSetSpec {
  readonly name: string;
  readonly family: Family;
  readonly type: 'hash:ip' | 'hash:net';
  /** Sorted, unique. */
  readonly entries: readonly string[];
}

/** A chain of ours in the filter table; each rule is what follows "-A NAME ". */
export interface ChainSpec {
  readonly name: string;
  readonly rules: readonly string[];
}

export interface FamilyRuleset {
  readonly sets: readonly IpSetSpec[];
  /** The hook chains first, then the others; empty when no local pod is isolated. */
  readonly chains: readonly ChainSpec[];
}

export type Ruleset = Readonly<Record<Family, FamilyRuleset>>;

/** Every chain of ours starts with this; the kernel layer removes what it no longer wants by it. */
export const CHAIN_PREFIX = 'GINGHAM-NP';
/** Every ipset of ours starts with this. */
export const SET_PREFIX = 'gingham-np';
/**
 * Jumped to first from FORWARD: routed and (br_netfilter) bridged traffic of local pods. Nothing
 * hooks INPUT or OUTPUT: traffic between a pod and its own node always passes (the API's rule).
 */
export const FORWARD_CHAIN = 'GINGHAM-NP-FORWARD';
/** The built-in chain each hook chain is jumped to from. */
export const HOOKS: readonly { readonly from: 'FORWARD'; readonly to: string }[] = [{ from: 'FORWARD', to: FORWARD_CHAIN }];
/**
 * The packet mark bit a policy chain sets when one of its rules allows the packet (kube-proxy uses
 * 0x4000 and 0x8000, Calico the upper 16 bits when present; kube-router 0x10000/0x20000 is not
 * run beside us).
 */
export const ALLOW_MARK = 0x20000;
