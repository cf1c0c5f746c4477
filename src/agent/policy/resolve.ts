// The first half of the compiler, pure: each policy with the pods it selects, and each of its rules
// with its peers resolved to addresses and its ports resolved to numbers. The ruleset (ruleset.ts)
// renders this form; `gingham policy explain` (explain.ts) evaluates it, so both agree by
// construction.
import { type Family, canonical, contains, formatCidr, parseCidr, parseIp } from '../../net/ip.js';
import type { Direction, NamespaceInfo, PodInfo, Policy, PolicyInputs, PolicyPeer, PolicyRule, Protocol } from './model.js';
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

/** Pods by namespace and namespaces by name: the lookups every selector needs. */
interface Index {
  readonly podsIn: ReadonlyMap<string, readonly PodInfo[]>;
  readonly namespaces: readonly NamespaceInfo[];
  /** Pods that have each named port: "name/PROTO" -> number -> pods. */
  readonly named: ReadonlyMap<string, ReadonlyMap<number, readonly PodInfo[]>>;
  /** Pod peers already resolved, by key: many policies repeat the same selectors. */
  readonly peers: Map<string, PodInfo[]>;
}

function index(inputs: PolicyInputs): Index {
  const podsIn = new Map<string, PodInfo[]>();
  const named = new Map<string, Map<number, PodInfo[]>>();
  for (const p of inputs.pods) {
    if (p.hostNetwork || p.ips.length === 0) continue;
    let list = podsIn.get(p.namespace);
    if (!list) podsIn.set(p.namespace, (list = []));
    list.push(p);
    // A pod that gives one name to two ports (the API forbids it) counts once, with the first.
    const seen = new Set<string>();
    for (const np of p.namedPorts) {
      const key = `${np.name}/${np.protocol}`;
      if (seen.has(key)) continue;
      seen.add(key);
      let byNumber = named.get(key);
      if (!byNumber) named.set(key, (byNumber = new Map()));
      let pods = byNumber.get(np.port);
      if (!pods) byNumber.set(np.port, (pods = []));
      pods.push(p);
    }
  }
  return { podsIn, namespaces: inputs.namespaces, named, peers: new Map() };
}

/**
 * What a pod peer stands for: a podSelector alone means the policy's own namespace; a
 * namespaceSelector alone every pod of the namespaces it selects; both the pods it selects in those.
 */
const peerKey = (policyNs: string, peer: PolicyPeer): string =>
  `${peer.namespaceSelector ? `namespaces ${selectorKey(peer.namespaceSelector)}` : `namespace ${policyNs}`} pods ${peer.podSelector ? selectorKey(peer.podSelector) : 'all'}`;

function peerPods(idx: Index, key: string, policyNs: string, peer: PolicyPeer): PodInfo[] {
  const known = idx.peers.get(key);
  if (known) return known;
  const nsNames = peer.namespaceSelector ? idx.namespaces.filter((n) => selects(peer.namespaceSelector!, n.labels)).map((n) => n.name) : [policyNs];
  const out: PodInfo[] = [];
  for (const ns of nsNames) for (const p of idx.podsIn.get(ns) ?? []) if (!peer.podSelector || selects(peer.podSelector, p.labels)) out.push(p);
  idx.peers.set(key, out);
  return out;
}

function resolvePeer(idx: Index, policyNs: string, peer: PolicyPeer): ResolvedPeer {
  if (peer.ipBlock) return { kind: 'ipBlock', cidr: peer.ipBlock.cidr, except: peer.ipBlock.except };
  const key = peerKey(policyNs, peer);
  return { kind: 'pods', key, peer, pods: peerPods(idx, key, policyNs, peer) };
}

function resolvePorts(idx: Index, rule: PolicyRule): ResolvedPort[] {
  const out: ResolvedPort[] = [];
  for (const p of rule.ports) {
    if (typeof p.port === 'string') {
      // A name no pod gives resolves to nothing: the entry allows nothing.
      for (const [port, pods] of idx.named.get(`${p.port}/${p.protocol}`) ?? []) out.push({ protocol: p.protocol, port, named: { name: p.port, pods } });
    } else if (p.port === undefined) {
      out.push({ protocol: p.protocol });
    } else {
      out.push({ protocol: p.protocol, port: p.port, ...(p.endPort !== undefined && p.endPort !== p.port ? { endPort: p.endPort } : {}) });
    }
  }
  return out;
}

function resolveRules(idx: Index, ns: string, rules: readonly PolicyRule[]): ResolvedRule[] {
  return rules.map((rule, index) => ({
    index,
    rule,
    peers: rule.peers.length === 0 ? 'all' : rule.peers.map((peer) => resolvePeer(idx, ns, peer)),
    ports: rule.ports.length === 0 ? 'all' : resolvePorts(idx, rule),
  }));
}

export function resolvePolicies(inputs: PolicyInputs): ResolvedPolicy[] {
  const idx = index(inputs);
  const out: ResolvedPolicy[] = [];
  for (const policy of inputs.policies) {
    const { namespace } = policy;
    out.push({
      policy,
      key: podKey(policy),
      selected: peerPods(idx, peerKey(namespace, { podSelector: policy.podSelector }), namespace, { podSelector: policy.podSelector }),
      ...(policy.ingress ? { ingress: resolveRules(idx, namespace, policy.ingress) } : {}),
      ...(policy.egress ? { egress: resolveRules(idx, namespace, policy.egress) } : {}),
    });
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export const familyOf = (ip: string): Family | undefined => parseIp(ip)?.family;

/**
 * An ipBlock as ipset hash:net entries of one family: the CIDR and each except as "nomatch" (the
 * set matches the most specific entry first). hash:net cannot hold a /0, so that becomes its two
 * halves. Empty when the block is of the other family, or when an except covers all of it.
 */
export function ipBlockEntries(cidr: string, except: readonly string[], family: Family): string[] {
  const c = parseCidr(cidr);
  if (!c || c.ip.family !== family) return [];
  const block = canonical(c);
  const holes = except.map(parseCidr).filter((e) => e !== undefined && e.ip.family === family && contains(block, e.ip));
  if (holes.some((h) => h!.prefix <= block.prefix)) return [];
  const base =
    block.prefix === 0 ? (family === 4 ? ['0.0.0.0/1', '128.0.0.0/1'] : ['::/1', '8000::/1']) : [formatCidr(block)];
  return [...base, ...holes.map((h) => `${formatCidr(canonical(h!))} nomatch`)];
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
