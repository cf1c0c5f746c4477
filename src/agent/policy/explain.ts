// `gingham policy explain`, the evaluation: would a connection from A to B on a port pass, and which
// tier, policy and rule decided it. It walks the resolved policies (resolve.ts) the agent renders
// into ipsets and chains, taking the same decisions as those chains: egress of the source, then
// ingress of the destination, each through the Admin ClusterNetworkPolicies, the NetworkPolicies
// and the Baseline ClusterNetworkPolicies; replies of an allowed connection pass; a NetworkPolicy
// never stops a pod and its own node reaching each other, and nothing stops the node reaching
// its pods.
import type { ClusterAction, Direction, PodInfo, Protocol, Tier } from './model.js';
import {
  type ResolvedClusterPolicy,
  type ResolvedClusterRule,
  type ResolvedPolicy,
  type ResolvedPort,
  type ResolvedRule,
  familyOf,
  inIpBlock,
  podKey,
} from './resolve.js';
import { showSelector } from './selector.js';

/** One end of the connection: a pod, or an address outside the pods (another host, a node). */
export type Endpoint = { readonly kind: 'pod'; readonly pod: PodInfo; readonly ip: string } | { readonly kind: 'ip'; readonly ip: string; readonly node?: string };

export interface Connection {
  readonly from: Endpoint;
  readonly to: Endpoint;
  readonly port: number;
  readonly protocol: Protocol;
}

/** A ClusterNetworkPolicy rule that matched: it decided (Accept, Deny) or handed on (Pass). */
export interface ClusterStep {
  readonly tier: Tier;
  readonly policy: string;
  readonly priority: number;
  readonly rule: number;
  readonly ruleName?: string;
  readonly action: ClusterAction;
  readonly ruleText: string;
}

/** Why one direction passes or not. */
export interface Judgement {
  readonly direction: Direction;
  /** The pod whose policies judge this direction; undefined when that end is not a pod. */
  readonly pod?: string;
  readonly allowed: boolean;
  /**
   * 'cluster-accept' / 'cluster-deny': a ClusterNetworkPolicy rule (`decided`); 'own-node',
   * 'allowed-by', 'no-rule-allows': the NetworkPolicies; 'not-isolated': nothing decided, the
   * default allows.
   */
  readonly reason: 'not-a-pod' | 'host-network' | 'from-own-node' | 'not-isolated' | 'own-node' | 'allowed-by' | 'no-rule-allows' | 'cluster-accept' | 'cluster-deny';
  /** Who decided: a tier, the NetworkPolicies, or nobody (the default). */
  readonly tier: Tier | 'NetworkPolicy' | 'default' | 'none';
  /** The NetworkPolicies that isolate the pod in this direction. */
  readonly policies: readonly string[];
  /** With 'allowed-by': the policy and rule, and the rule for people. */
  readonly policy?: string;
  readonly rule?: number;
  readonly ruleText?: string;
  /** The Pass rules that handed the decision on, in order, and the ClusterNetworkPolicy rule that decided. */
  readonly passed: readonly ClusterStep[];
  readonly decided?: ClusterStep;
}

export interface Explanation {
  readonly allowed: boolean;
  readonly egress: Judgement;
  readonly ingress: Judgement;
}

function portMatches(p: ResolvedPort, c: Connection, dst: Endpoint): boolean {
  if (p.protocol !== c.protocol) return false;
  if (p.port === undefined) return true;
  if (c.port < p.port || c.port > (p.endPort ?? p.port)) return false;
  return !p.named || (dst.kind === 'pod' && p.named.pods.some((q) => podKey(q) === podKey(dst.pod)));
}

function peerMatches(r: ResolvedRule, peer: Endpoint): boolean {
  if (r.peers === 'all') return true;
  return r.peers.some((p) => (p.kind === 'ipBlock' ? inIpBlock(peer.ip, p.cidr, p.except) : peer.kind === 'pod' && p.pods.some((q) => podKey(q) === podKey(peer.pod))));
}

/** A rule for people: "from ns=x (pods app=web); ports 80/TCP, http/TCP". */
export function showRule(r: ResolvedRule, d: Direction): string {
  const peers =
    r.peers === 'all'
      ? 'any peer'
      : r.peers
          .map((p) => {
            if (p.kind === 'ipBlock') return `ipBlock ${p.cidr}${p.except.length ? ` except ${p.except.join(',')}` : ''}`;
            const parts = [];
            if (p.peer.namespaceSelector) parts.push(`namespaces ${showSelector(p.peer.namespaceSelector)}`);
            if (p.peer.podSelector) parts.push(`pods ${showSelector(p.peer.podSelector)}`);
            return parts.join(' and ');
          })
          .join(' or ');
  const ports = r.rule.ports.length === 0 ? 'any port' : r.rule.ports.map((p) => `${p.port ?? '*'}${p.endPort !== undefined ? `-${p.endPort}` : ''}/${p.protocol}`).join(', ');
  return `${d === 'ingress' ? 'from' : 'to'} ${peers}; ${ports}`;
}

function clusterPeerMatches(r: ResolvedClusterRule, peer: Endpoint): boolean {
  if (r.peers === 'all') return true;
  return r.peers.some((p) => {
    switch (p.kind) {
      case 'pods':
        return peer.kind === 'pod' && p.pods.some((q) => podKey(q) === podKey(peer.pod));
      case 'networks':
        return p.cidrs.some((cidr) => inIpBlock(peer.ip, cidr, []));
      case 'nodes':
        return p.nodes.some((n) => n.ips.includes(peer.ip));
      case 'domainNames':
        return false;
    }
  });
}

/** A ClusterNetworkPolicy rule for people: "to namespaces ns=x or networks 0.0.0.0/0; 80/TCP, named web". */
export function showClusterRule(r: ResolvedClusterRule, d: Direction): string {
  const peers =
    r.peers === 'all'
      ? 'any peer (a rule gingham could not read, denying)'
      : r.peers.length === 0
        ? 'no peer it could read'
        : r.peers
            .map((p) => {
              switch (p.kind) {
                case 'pods':
                  return p.peer.kind === 'pods' ? `pods ${showSelector(p.peer.pods)} in namespaces ${showSelector(p.peer.namespaces)}` : `namespaces ${showSelector(p.peer.namespaces)}`;
                case 'networks':
                  return `networks ${p.cidrs.join(',')}`;
                case 'nodes':
                  return `nodes ${showSelector(p.selector)}`;
                case 'domainNames':
                  return `domainNames ${p.names.join(',')} (not enforced: matches nothing)`;
              }
            })
            .join(' or ');
  const protocols = r.rule.protocols;
  const ports =
    protocols === undefined
      ? 'any protocol'
      : protocols.length === 0
        ? 'no port it could read'
        : protocols.map((p) => (p.kind === 'named' ? `named ${p.name}` : `${p.port}${p.endPort !== undefined ? `-${p.endPort}` : ''}/${p.protocol}`)).join(', ');
  return `${d === 'ingress' ? 'from' : 'to'} ${peers}; ${ports}`;
}

/** A tier's verdict for a direction: the rule that decided, or the Pass (or nothing) that hands on. */
function judgeTier(cluster: readonly ResolvedClusterPolicy[], tier: Tier, self: PodInfo, peer: Endpoint, c: Connection, d: Direction): ClusterStep | undefined {
  const key = podKey(self);
  for (const rcp of cluster) {
    if (rcp.tier !== tier || rcp[d].length === 0 || !rcp.subjects.some((p) => podKey(p) === key)) continue;
    for (const r of rcp[d]) {
      if (!clusterPeerMatches(r, peer)) continue;
      if (r.ports !== 'all' && !r.ports.some((p) => portMatches(p, c, c.to))) continue;
      return { tier, policy: rcp.key, priority: rcp.priority, rule: r.index, ...(r.rule.name !== undefined ? { ruleName: r.rule.name } : {}), action: r.rule.action, ruleText: showClusterRule(r, d) };
    }
  }
  return undefined;
}

function judge(resolved: readonly ResolvedPolicy[], cluster: readonly ResolvedClusterPolicy[], c: Connection, d: Direction): Judgement {
  const self = d === 'egress' ? c.from : c.to;
  const peer = d === 'egress' ? c.to : c.from;
  if (self.kind !== 'pod') return { direction: d, allowed: true, reason: 'not-a-pod', tier: 'none', policies: [], passed: [] };
  const pod = podKey(self.pod);
  if (self.pod.hostNetwork) return { direction: d, pod, allowed: true, reason: 'host-network', tier: 'none', policies: [], passed: [] };
  const isolating = resolved.filter((r) => r[d] !== undefined && r.selected.some((p) => podKey(p) === pod));
  const policies = isolating.map((r) => r.key);
  const peerNode = peer.kind === 'pod' ? (peer.pod.hostNetwork ? peer.pod.node : undefined) : peer.node;
  // The node reaches its own pods without crossing a forwarding hook: nothing judges it.
  if (d === 'ingress' && peerNode === self.pod.node) return { direction: d, pod, allowed: true, reason: 'from-own-node', tier: 'none', policies, passed: [] };
  const passed: ClusterStep[] = [];
  for (const tier of ['Admin', 'NetworkPolicy', 'Baseline'] as const) {
    if (tier !== 'NetworkPolicy') {
      const step = judgeTier(cluster, tier, self.pod, peer, c, d);
      if (step?.action === 'Pass') passed.push(step);
      else if (step) return { direction: d, pod, allowed: step.action === 'Accept', reason: step.action === 'Accept' ? 'cluster-accept' : 'cluster-deny', tier, policies, passed, decided: step };
      continue;
    }
    if (policies.length === 0) continue;
    // A NetworkPolicy never stops traffic between a pod and its own node (the API's rule: kubelet's
    // probes need it, and so do node-local services).
    if (peerNode === self.pod.node) return { direction: d, pod, allowed: true, reason: 'own-node', tier, policies, passed };
    for (const rp of isolating) {
      for (const r of rp[d]!) {
        if (!peerMatches(r, peer)) continue;
        if (r.ports !== 'all' && !r.ports.some((p) => portMatches(p, c, c.to))) continue;
        return { direction: d, pod, allowed: true, reason: 'allowed-by', tier, policies, policy: rp.key, rule: r.index, ruleText: showRule(r, d), passed };
      }
    }
    return { direction: d, pod, allowed: false, reason: 'no-rule-allows', tier, policies, passed };
  }
  return { direction: d, pod, allowed: true, reason: 'not-isolated', tier: 'default', policies, passed };
}

/** cluster: the ClusterNetworkPolicies in check order (as the resolver returns them). */
export function explain(resolved: readonly ResolvedPolicy[], c: Connection, cluster: readonly ResolvedClusterPolicy[] = []): Explanation {
  if (familyOf(c.from.ip) !== familyOf(c.to.ip)) throw new Error(`${c.from.ip} and ${c.to.ip} are not of one family`);
  const egress = judge(resolved, cluster, c, 'egress');
  const ingress = judge(resolved, cluster, c, 'ingress');
  return { allowed: egress.allowed && ingress.allowed, egress, ingress };
}

const name = (e: Endpoint): string => (e.kind === 'pod' ? `${podKey(e.pod)} (${e.ip})` : e.node ? `node ${e.node} (${e.ip})` : e.ip);

/** "Admin deny-all (priority 10) ingress rule 0 "name" (from ...)": a ClusterNetworkPolicy rule for people. */
export const showStep = (s: ClusterStep, d: Direction): string =>
  `${s.tier} ${s.policy} (priority ${s.priority}) ${d} rule ${s.rule}${s.ruleName !== undefined ? ` ${JSON.stringify(s.ruleName)}` : ''} (${s.ruleText}): ${s.action}`;

function showJudgement(j: Judgement): string {
  const who = j.pod ?? 'the other end';
  const isolation = `isolated for ${j.direction} by NetworkPolicy ${j.policies.join(', ')}`;
  const d = j.direction;
  switch (j.reason) {
    case 'not-a-pod':
      return `${d}: allowed (${d === 'egress' ? 'the source' : 'the destination'} is not a pod: no policy applies)`;
    case 'host-network':
      return `${d}: allowed (${who} uses the host network: no policy applies)`;
    case 'from-own-node':
      return `${d}: allowed (from ${who}'s own node: no policy applies)`;
    case 'not-isolated':
      return `${d}: allowed (${who}: ${j.passed.length > 0 ? 'every tier passed, no NetworkPolicy selects it' : 'no policy selects it'} for ${d}; the default allows)`;
    case 'own-node':
      return `${d}: allowed (${who}: ${isolation}; a NetworkPolicy never stops traffic between a pod and its own node)`;
    case 'allowed-by':
      return `${d}: allowed by NetworkPolicy ${j.policy} ${d} rule ${j.rule} (${j.ruleText}) (${who}: ${isolation})`;
    case 'no-rule-allows':
      return `${d}: DENIED (${who}: ${isolation}; no rule of them allows it)`;
    case 'cluster-accept':
      return `${d}: allowed by ${showStep(j.decided!, d)}`;
    case 'cluster-deny':
      return `${d}: DENIED by ${showStep(j.decided!, d)}`;
  }
}

/** A direction's verdict, after the Pass rules that led to it. */
const judgementLines = (j: Judgement): string[] => [...j.passed.map((s) => `  ${j.direction}: passed on by ${showStep(s, j.direction)}`), `  ${showJudgement(j)}`];

/** The explanation for people, a few lines; the first says the verdict. */
export function showExplanation(c: Connection, e: Explanation): string {
  return [
    `${name(c.from)} -> ${name(c.to)} ${c.port}/${c.protocol}: ${e.allowed ? 'ALLOWED' : 'DENIED'}`,
    ...judgementLines(e.egress),
    ...judgementLines(e.ingress),
    '  replies of an allowed connection pass (conntrack)',
  ].join('\n');
}
