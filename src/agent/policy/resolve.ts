// The first half of the compiler: each policy with the pods it selects, and each of its rules with
// its peers resolved to addresses and its ports resolved to numbers (a pure function of the inputs;
// the agent's PolicyResolver only remembers how it got there last pass). The ruleset (ruleset.ts)
// renders this form; `gingham policy explain` (explain.ts) evaluates it, so both agree by
// construction.
import { type Family, canonical, contains, formatCidr, parseCidr, parseIp } from '../../net/ip.js';
import {
  type ClusterPeer,
  type ClusterPodSelection,
  type ClusterPolicy,
  type ClusterRule,
  type Direction,
  type LabelSelector,
  type NamespaceInfo,
  type NodePeerInfo,
  PROTOCOLS,
  type PodInfo,
  type Policy,
  type PolicyInputs,
  type PolicyPeer,
  type PolicyRule,
  type Protocol,
  type Tier,
} from './model.js';
import { selectorKey, selects } from './selector.js';

/**
 * A peer as addresses: the pods it selects (their IPs, every family), or an ipBlock. `key` says
 * what a pod peer stands for (the namespaces in scope and the pod selector), the same for equal
 * peers of any policy, so they share one ipset.
 */
export type ResolvedPeer =
  | { readonly kind: 'pods'; readonly key: string; readonly peer: PolicyPeer; readonly pods: readonly PodInfo[] }
  | { readonly kind: 'ipBlock'; readonly cidr: string; readonly except: readonly string[] };

/**
 * A port match. A named port becomes one entry per number some pod gives that name (with that
 * protocol): the destination must be one of `pods` and the port that number.
 */
export interface ResolvedPort {
  readonly protocol: Protocol;
  /** Undefined: every port of the protocol. */
  readonly port?: number;
  readonly endPort?: number;
  readonly named?: { readonly name: string; readonly pods: readonly PodInfo[] };
}

export interface ResolvedRule {
  readonly index: number;
  readonly rule: PolicyRule;
  /** 'all': the rule names no peer, so every source (ingress) or destination (egress) matches. */
  readonly peers: 'all' | readonly ResolvedPeer[];
  /** 'all': the rule names no port. */
  readonly ports: 'all' | readonly ResolvedPort[];
}

export interface ResolvedPolicy {
  readonly policy: Policy;
  /** "namespace/name". */
  readonly key: string;
  /** Pods it selects (never hostNetwork pods: they have their node's address). */
  readonly selected: readonly PodInfo[];
  readonly ingress?: readonly ResolvedRule[];
  readonly egress?: readonly ResolvedRule[];
}

export const podKey = (p: { namespace: string; name: string }): string => `${p.namespace}/${p.name}`;

/** A ClusterNetworkPolicy peer as addresses: pods (sharing v1's pod-peer keys), CIDRs, nodes, or names (unenforced). */
export type ResolvedClusterPeer =
  | { readonly kind: 'pods'; readonly key: string; readonly peer: ClusterPodSelection; readonly pods: readonly PodInfo[] }
  | { readonly kind: 'networks'; readonly cidrs: readonly string[] }
  | { readonly kind: 'nodes'; readonly key: string; readonly selector: LabelSelector; readonly nodes: readonly NodePeerInfo[] }
  | { readonly kind: 'domainNames'; readonly names: readonly string[] };

export interface ResolvedClusterRule {
  /** Its place in the policy's written list. */
  readonly index: number;
  readonly rule: ClusterRule;
  readonly peers: 'all' | readonly ResolvedClusterPeer[];
  /** 'all': every packet, ICMP included; a named port gives one entry per protocol and number pods give it. */
  readonly ports: 'all' | readonly ResolvedPort[];
}

export interface ResolvedClusterPolicy {
  readonly policy: ClusterPolicy;
  /** Its name (cluster-scoped). */
  readonly key: string;
  readonly tier: Tier;
  readonly priority: number;
  /** The pods its subject takes, on every node (never hostNetwork pods), and what they stand for (a pod-peer key). */
  readonly subjects: readonly PodInfo[];
  readonly subjectKey: string;
  readonly ingress: readonly ResolvedClusterRule[];
  readonly egress: readonly ResolvedClusterRule[];
}

/**
 * The order policies of one tier are checked in: priority, then name. The API leaves equal
 * priorities to the implementation; a fixed order makes the chains and `explain` agree.
 */
export function clusterOrder(a: ResolvedClusterPolicy, b: ResolvedClusterPolicy): number {
  if (a.tier !== b.tier) return a.tier === 'Admin' ? -1 : 1;
  return a.priority - b.priority || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/** A ClusterNetworkPolicy's pod selection as v1's peer form: namespaces given, pods optional. */
const asPeer = (s: ClusterPodSelection): PolicyPeer => (s.kind === 'pods' ? { namespaceSelector: s.namespaces, podSelector: s.pods } : { namespaceSelector: s.namespaces });

const NO_PODS: readonly PodInfo[] = [];

/** Whether two lists hold the same objects in the same order. */
function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * What a pod peer stands for: a podSelector alone means the policy's own namespace; a
 * namespaceSelector alone every pod of the namespaces it selects; both the pods it selects in those.
 */
const peerKey = (policyNs: string, peer: PolicyPeer): string =>
  `${peer.namespaceSelector ? `namespaces ${selectorKey(peer.namespaceSelector)}` : `namespace ${policyNs}`} pods ${peer.podSelector ? selectorKey(peer.podSelector) : 'all'}`;

/** A peer with the addresses left to look up: pods by key, or an ipBlock (already final). */
type PeerShape = { readonly kind: 'pods'; readonly key: string; readonly peer: PolicyPeer } | Extract<ResolvedPeer, { kind: 'ipBlock' }>;
/** A port with the numbers left to look up: a named port by name, or final. */
type PortShape = { readonly kind: 'named'; readonly protocol: Protocol; readonly name: string; readonly key: string } | { readonly kind: 'final'; readonly port: ResolvedPort };

interface RuleShape {
  readonly rule: PolicyRule;
  readonly peers: 'all' | readonly PeerShape[];
  readonly ports: 'all' | readonly PortShape[];
}

/** What a policy asks for, apart from which pods match: computed once per Policy object. */
interface PolicyShape {
  readonly key: string;
  readonly selectKey: string;
  readonly selectPeer: PolicyPeer;
  readonly ingress?: readonly RuleShape[];
  readonly egress?: readonly RuleShape[];
}

function ruleShape(ns: string, rule: PolicyRule): RuleShape {
  return {
    rule,
    peers: rule.peers.length === 0 ? 'all' : rule.peers.map((peer): PeerShape => (peer.ipBlock ? { kind: 'ipBlock', cidr: peer.ipBlock.cidr, except: peer.ipBlock.except } : { kind: 'pods', key: peerKey(ns, peer), peer })),
    ports:
      rule.ports.length === 0
        ? 'all'
        : rule.ports.map((p): PortShape => {
            if (typeof p.port === 'string') return { kind: 'named', protocol: p.protocol, name: p.port, key: `${p.port}/${p.protocol}` };
            if (p.port === undefined) return { kind: 'final', port: { protocol: p.protocol } };
            return { kind: 'final', port: { protocol: p.protocol, port: p.port, ...(p.endPort !== undefined && p.endPort !== p.port ? { endPort: p.endPort } : {}) } };
          }),
  };
}

function policyShape(policy: Policy): PolicyShape {
  const { namespace } = policy;
  const selectPeer = { podSelector: policy.podSelector };
  return {
    key: podKey(policy),
    selectKey: peerKey(namespace, selectPeer),
    selectPeer,
    ...(policy.ingress ? { ingress: policy.ingress.map((r) => ruleShape(namespace, r)) } : {}),
    ...(policy.egress ? { egress: policy.egress.map((r) => ruleShape(namespace, r)) } : {}),
  };
}

/** Pods that give a named port ("name/PROTO") each number. */
type NumberedPods = ReadonlyMap<number, readonly PodInfo[]>;

/** A pod peer's pods and what they came from: the pod lists of the namespaces in its scope. */
interface PeerResult {
  readonly namespaces: readonly string[];
  readonly lists: readonly (readonly PodInfo[])[];
  readonly pods: readonly PodInfo[];
}

/** A resolved policy and the lists it was resolved from, in the order the policy reads them. */
interface Resolution {
  readonly resolved: ResolvedPolicy;
  readonly inputs: readonly unknown[];
}

/**
 * Resolves policies pass after pass, redoing only what a changed input touches. Inputs are
 * immutable objects (the source converts an API object once and hands out the same object until it
 * changes), so identity says "unchanged": a namespace's pod list that holds the same pods is reused
 * as is, a pod peer is recomputed only when a namespace in its scope lists other pods (and keeps
 * its list object when it selects the same pods), and a policy whose selections are all the same
 * lists keeps its ResolvedPolicy object (the ruleset builder keys its own caches on that object).
 * Any change of namespaces starts the peers afresh. The result is always equal to a fresh
 * resolution's.
 */
export class PolicyResolver {
  private readonly shapes = new WeakMap<Policy, PolicyShape>();
  private readonly done = new WeakMap<Policy, Resolution>();
  private podsIn = new Map<string, readonly PodInfo[]>();
  private named = new Map<string, NumberedPods>();
  private namespaces: readonly NamespaceInfo[] = [];
  /** Namespace names each namespace selector picks (by selector key), for the current namespaces. */
  private nsPicks = new Map<string, readonly string[]>();
  private peersBefore = new Map<string, PeerResult>();
  private peersNow = new Map<string, PeerResult>();
  private readonly clusterDone = new WeakMap<ClusterPolicy, { readonly inputs: readonly unknown[]; readonly cluster: ResolvedClusterPolicy }>();
  private readonly selections = new WeakMap<ClusterPodSelection, { readonly key: string; readonly peer: PolicyPeer }>();
  private nodes: readonly NodePeerInfo[] = [];
  /** The nodes each node selector picks, for the current nodes; kept while they are the same. */
  private nodePicks = new Map<string, readonly NodePeerInfo[]>();
  private nodePicksBefore = new Map<string, readonly NodePeerInfo[]>();

  resolve(inputs: PolicyInputs): ResolvedPolicy[] {
    return this.resolveAll(inputs).policies;
  }

  /**
   * The NetworkPolicies sorted by key, and the ClusterNetworkPolicies Admin then Baseline, each
   * tier in the order its policies are checked (clusterOrder). Both share the pod-peer lists.
   */
  resolveAll(inputs: PolicyInputs): { policies: ResolvedPolicy[]; cluster: ResolvedClusterPolicy[] } {
    this.index(inputs);
    const out: { key: string; resolved: ResolvedPolicy }[] = [];
    for (const policy of inputs.policies) {
      let shape = this.shapes.get(policy);
      if (!shape) this.shapes.set(policy, (shape = policyShape(policy)));
      out.push({ key: shape.key, resolved: this.resolveOne(policy, shape) });
    }
    const nodes = inputs.nodes ?? [];
    if (!sameItems(this.nodes, nodes)) {
      this.nodes = nodes;
      this.nodePicksBefore = this.nodePicks;
      this.nodePicks = new Map();
    }
    const cluster = (inputs.clusterPolicies ?? []).map((cp) => this.resolveClusterOne(cp)).sort(clusterOrder);
    this.peersBefore = this.peersNow;
    this.peersNow = new Map();
    return { policies: out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((o) => o.resolved), cluster };
  }

  private selection(s: ClusterPodSelection): readonly PodInfo[] {
    let hit = this.selections.get(s);
    if (!hit) {
      const peer = asPeer(s);
      this.selections.set(s, (hit = { key: peerKey('', peer), peer }));
    }
    return this.peerPods(hit.key, '', hit.peer);
  }

  private nodesOf(sel: LabelSelector): readonly NodePeerInfo[] {
    const key = selectorKey(sel);
    let picked = this.nodePicks.get(key);
    if (!picked) {
      const now = this.nodes.filter((n) => selects(sel, n.labels));
      const before = this.nodePicksBefore.get(key);
      this.nodePicks.set(key, (picked = before && sameItems(before, now) ? before : now));
    }
    return picked;
  }

  /** What a ClusterNetworkPolicy's resolution reads, in order: subjects, then per rule its peers' lists and named ports. */
  private clusterInputs(cp: ClusterPolicy): unknown[] {
    const out: unknown[] = [this.selection(cp.subject)];
    for (const rules of [cp.ingress, cp.egress]) {
      for (const r of rules) {
        if (r.peers !== 'all') {
          for (const p of r.peers) {
            if (p.kind === 'namespaces' || p.kind === 'pods') out.push(this.selection(p));
            else if (p.kind === 'nodes') out.push(this.nodesOf(p.nodes));
          }
        }
        for (const p of r.protocols ?? []) if (p.kind === 'named') for (const proto of PROTOCOLS) out.push(this.named.get(`${p.name}/${proto}`));
      }
    }
    return out;
  }

  private resolveClusterOne(cp: ClusterPolicy): ResolvedClusterPolicy {
    const inputs = this.clusterInputs(cp);
    const before = this.clusterDone.get(cp);
    if (before && sameItems(before.inputs, inputs)) return before.cluster;
    let next = 1;
    const take = <T>(): T => inputs[next++] as T;
    const peer = (p: ClusterPeer): ResolvedClusterPeer => {
      switch (p.kind) {
        case 'namespaces':
        case 'pods':
          return { kind: 'pods', key: this.selections.get(p)!.key, peer: p, pods: take<readonly PodInfo[]>() };
        case 'nodes':
          return { kind: 'nodes', key: selectorKey(p.nodes), selector: p.nodes, nodes: take<readonly NodePeerInfo[]>() };
        case 'networks':
          return { kind: 'networks', cidrs: p.cidrs };
        case 'domainNames':
          return { kind: 'domainNames', names: p.names };
      }
    };
    const rules = (list: readonly ClusterRule[]): ResolvedClusterRule[] =>
      list.map((rule, index) => ({
        index,
        rule,
        peers: rule.peers === 'all' ? 'all' : rule.peers.map(peer),
        ports:
          rule.protocols === undefined
            ? 'all'
            : rule.protocols.flatMap((p): ResolvedPort[] => {
                if (p.kind === 'port') return [{ protocol: p.protocol, port: p.port, ...(p.endPort !== undefined && p.endPort !== p.port ? { endPort: p.endPort } : {}) }];
                // The port's protocol is whatever the destination pod declares it with.
                return PROTOCOLS.flatMap((protocol) => [...(take<NumberedPods | undefined>() ?? [])].map(([port, pods]) => ({ protocol, port, named: { name: p.name, pods } })));
              }),
      }));
    const ingress = rules(cp.ingress);
    const egress = rules(cp.egress);
    const cluster: ResolvedClusterPolicy = { policy: cp, key: cp.name, tier: cp.tier, priority: cp.priority, subjects: inputs[0] as readonly PodInfo[], subjectKey: this.selections.get(cp.subject)!.key, ingress, egress };
    this.clusterDone.set(cp, { inputs, cluster });
    return cluster;
  }

  /** This pass's pod lists and named-port index, reusing last pass's lists where they hold the same pods. */
  private index(inputs: PolicyInputs): void {
    const podsIn = new Map<string, PodInfo[]>();
    const named = new Map<string, Map<number, PodInfo[]>>();
    for (const p of inputs.pods) {
      if (p.hostNetwork || p.ips.length === 0) continue;
      let list = podsIn.get(p.namespace);
      if (!list) podsIn.set(p.namespace, (list = []));
      list.push(p);
      // A pod that gives one name to two ports (the API forbids it) counts once, with the first.
      for (let i = 0; i < p.namedPorts.length; i++) {
        const np = p.namedPorts[i]!;
        const key = `${np.name}/${np.protocol}`;
        let repeated = false;
        for (let j = 0; j < i && !repeated; j++) repeated = p.namedPorts[j]!.name === np.name && p.namedPorts[j]!.protocol === np.protocol;
        if (repeated) continue;
        let byNumber = named.get(key);
        if (!byNumber) named.set(key, (byNumber = new Map()));
        let pods = byNumber.get(np.port);
        if (!pods) byNumber.set(np.port, (pods = []));
        pods.push(p);
      }
    }
    const keptLists = new Map<string, readonly PodInfo[]>();
    for (const [ns, list] of podsIn) {
      const before = this.podsIn.get(ns);
      keptLists.set(ns, before && sameItems(before, list) ? before : list);
    }
    this.podsIn = keptLists;
    const keptNamed = new Map<string, NumberedPods>();
    for (const [key, byNumber] of named) {
      const before = this.named.get(key);
      const same = before !== undefined && before.size === byNumber.size && [...byNumber].every(([n, pods]) => {
        const old = before.get(n);
        return old !== undefined && sameItems(old, pods);
      });
      keptNamed.set(key, same ? before : byNumber);
    }
    this.named = keptNamed;
    if (!sameItems(this.namespaces, inputs.namespaces)) {
      this.namespaces = inputs.namespaces;
      this.nsPicks = new Map();
      this.peersBefore = new Map();
    }
  }

  /** The pods a pod peer stands for (see peerKey), one list object per key and pass. */
  private peerPods(key: string, policyNs: string, peer: PolicyPeer): readonly PodInfo[] {
    const now = this.peersNow.get(key);
    if (now) return now.pods;
    const before = this.peersBefore.get(key);
    if (before && before.namespaces.every((ns, i) => (this.podsIn.get(ns) ?? NO_PODS) === before.lists[i])) {
      this.peersNow.set(key, before);
      return before.pods;
    }
    const namespaces = peer.namespaceSelector ? this.picks(peer.namespaceSelector) : [policyNs];
    const lists = namespaces.map((ns) => this.podsIn.get(ns) ?? NO_PODS);
    const pods: PodInfo[] = [];
    for (const list of lists) for (const p of list) if (!peer.podSelector || selects(peer.podSelector, p.labels)) pods.push(p);
    // A pod changed next to the peer's, not in it: still the same list object, so the policies
    // naming the peer keep their resolution.
    const kept = before && sameItems(before.pods, pods) ? before.pods : pods;
    this.peersNow.set(key, { namespaces, lists, pods: kept });
    return kept;
  }

  private picks(sel: LabelSelector): readonly string[] {
    const key = selectorKey(sel);
    let names = this.nsPicks.get(key);
    if (!names) this.nsPicks.set(key, (names = this.namespaces.filter((n) => selects(sel, n.labels)).map((n) => n.name)));
    return names;
  }

  /** The lists a policy's resolution reads, in order: selected pods, then per rule its pod peers and named ports. */
  private inputsOf(policy: Policy, shape: PolicyShape): unknown[] {
    const out: unknown[] = [this.peerPods(shape.selectKey, policy.namespace, shape.selectPeer)];
    for (const rules of [shape.ingress, shape.egress]) {
      for (const r of rules ?? []) {
        if (r.peers !== 'all') for (const p of r.peers) if (p.kind === 'pods') out.push(this.peerPods(p.key, policy.namespace, p.peer));
        if (r.ports !== 'all') for (const p of r.ports) if (p.kind === 'named') out.push(this.named.get(p.key));
      }
    }
    return out;
  }

  private resolveOne(policy: Policy, shape: PolicyShape): ResolvedPolicy {
    const inputs = this.inputsOf(policy, shape);
    const before = this.done.get(policy);
    if (before && sameItems(before.inputs, inputs)) return before.resolved;
    let next = 1;
    const take = <T>(): T => inputs[next++] as T;
    const rules = (shapes: readonly RuleShape[]): ResolvedRule[] =>
      shapes.map((r, index) => ({
        index,
        rule: r.rule,
        peers: r.peers === 'all' ? 'all' : r.peers.map((p): ResolvedPeer => (p.kind === 'pods' ? { kind: 'pods', key: p.key, peer: p.peer, pods: take<readonly PodInfo[]>() } : p)),
        ports:
          r.ports === 'all'
            ? 'all'
            : r.ports.flatMap((p): ResolvedPort[] => {
                if (p.kind === 'final') return [p.port];
                // A name no pod gives resolves to nothing: the entry allows nothing.
                return [...(take<NumberedPods | undefined>() ?? [])].map(([port, pods]) => ({ protocol: p.protocol, port, named: { name: p.name, pods } }));
              }),
      }));
    // Rules in the order inputsOf read them: ingress first.
    const ingress = shape.ingress && rules(shape.ingress);
    const egress = shape.egress && rules(shape.egress);
    const resolved: ResolvedPolicy = {
      policy,
      key: shape.key,
      selected: inputs[0] as readonly PodInfo[],
      ...(ingress ? { ingress } : {}),
      ...(egress ? { egress } : {}),
    };
    this.done.set(policy, { resolved, inputs });
    return resolved;
  }
}

/** One resolution with nothing remembered (explain, tests). */
export function resolvePolicies(inputs: PolicyInputs): ResolvedPolicy[] {
  return new PolicyResolver().resolve(inputs);
}

/** Both kinds, resolved once with nothing remembered (explain, tests). */
export function resolveAll(inputs: PolicyInputs): { policies: ResolvedPolicy[]; cluster: ResolvedClusterPolicy[] } {
  return new PolicyResolver().resolveAll(inputs);
}

export const familyOf = (ip: string): Family | undefined => parseIp(ip)?.family;

/**
 * An ipBlock as an address set's members of one family: the CIDR, and each except inside it cut
 * out (canonical CIDRs; each dataplane says "minus" its own way: ipset `nomatch` entries, nftables
 * intervals). Empty when the block is of the other family, or when an except covers all of it.
 */
export function ipBlockEntries(cidr: string, except: readonly string[], family: Family): { entries: string[]; except: string[] } {
  const c = parseCidr(cidr);
  if (!c || c.ip.family !== family) return { entries: [], except: [] };
  const block = canonical(c);
  const holes = except.map(parseCidr).filter((e) => e !== undefined && e.ip.family === family && contains(block, e.ip));
  if (holes.some((h) => h!.prefix <= block.prefix)) return { entries: [], except: [] };
  return { entries: [formatCidr(block)], except: holes.map((h) => formatCidr(canonical(h!))) };
}

/** Whether `ip` is in the block and in none of its excepts (the same test the set makes). */
export function inIpBlock(ip: string, cidr: string, except: readonly string[]): boolean {
  const a = parseIp(ip);
  const c = parseCidr(cidr);
  if (!a || !c || a.family !== c.ip.family || !contains(c, a)) return false;
  return !except.some((e) => {
    const x = parseCidr(e);
    return x !== undefined && x.ip.family === a.family && contains(x, a);
  });
}

/** The policies that select `pod` for `dir` (those that isolate it in that direction). */
export function isolating(resolved: readonly ResolvedPolicy[], pod: PodInfo, dir: Direction): ResolvedPolicy[] {
  const k = podKey(pod);
  return resolved.filter((r) => r[dir] !== undefined && r.selected.some((p) => podKey(p) === k));
}
