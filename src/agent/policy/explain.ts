// `gingham policy explain`, the evaluation: would a connection from A to B on a port pass, and which
// policy and rule decided it. It walks the resolved policies (resolve.ts) the agent renders into
// ipsets and chains, taking the same decisions as those chains: egress of the source, then ingress
// of the destination; replies of an allowed connection pass; a pod and its own node always reach
// each other.
import type { Direction, PodInfo, Protocol } from './model.js';
import { type ResolvedPolicy, type ResolvedPort, type ResolvedRule, familyOf, inIpBlock, podKey } from './resolve.js';
import { showSelector } from './selector.js';

/** One end of the connection: a pod, or an address outside the pods (another host, a node). */
export type Endpoint = { readonly kind: 'pod'; readonly pod: PodInfo; readonly ip: string } | { readonly kind: 'ip'; readonly ip: string; readonly node?: string };

export interface Connection {
  readonly from: Endpoint;
  readonly to: Endpoint;
  readonly port: number;
  readonly protocol: Protocol;
}

/** Why one direction passes or not. */
export interface Judgement {
  readonly direction: Direction;
  /** The pod whose policies judge this direction; undefined when that end is not a pod. */
  readonly pod?: string;
  readonly allowed: boolean;
  /** 'not-isolated', 'own-node', 'allowed-by', 'no-rule-allows', 'not-a-pod'. */
  readonly reason: 'not-a-pod' | 'host-network' | 'not-isolated' | 'own-node' | 'allowed-by' | 'no-rule-allows';
  /** The policies that isolate the pod in this direction. */
  readonly policies: readonly string[];
  /** With 'allowed-by': the policy and rule, and the rule for people. */
  readonly policy?: string;
  readonly rule?: number;
  readonly ruleText?: string;
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

function judge(resolved: readonly ResolvedPolicy[], c: Connection, d: Direction): Judgement {
  const self = d === 'egress' ? c.from : c.to;
  const peer = d === 'egress' ? c.to : c.from;
  if (self.kind !== 'pod') return { direction: d, allowed: true, reason: 'not-a-pod', policies: [] };
  const pod = podKey(self.pod);
  if (self.pod.hostNetwork) return { direction: d, pod, allowed: true, reason: 'host-network', policies: [] };
  const isolating = resolved.filter((r) => r[d] !== undefined && r.selected.some((p) => podKey(p) === pod));
  const policies = isolating.map((r) => r.key);
  if (policies.length === 0) return { direction: d, pod, allowed: true, reason: 'not-isolated', policies };
  // Traffic between a pod and its own node passes whatever the policies say, both ways (the API's
  // rule: kubelet's probes need it, and so do node-local services).
  const peerNode = peer.kind === 'pod' ? (peer.pod.hostNetwork ? peer.pod.node : undefined) : peer.node;
  if (peerNode === self.pod.node) return { direction: d, pod, allowed: true, reason: 'own-node', policies };
  for (const rp of isolating) {
    for (const r of rp[d]!) {
      if (!peerMatches(r, peer)) continue;
      if (r.ports !== 'all' && !r.ports.some((p) => portMatches(p, c, c.to))) continue;
      return { direction: d, pod, allowed: true, reason: 'allowed-by', policies, policy: rp.key, rule: r.index, ruleText: showRule(r, d) };
    }
  }
  return { direction: d, pod, allowed: false, reason: 'no-rule-allows', policies };
}

export function explain(resolved: readonly ResolvedPolicy[], c: Connection): Explanation {
  if (familyOf(c.from.ip) !== familyOf(c.to.ip)) throw new Error(`${c.from.ip} and ${c.to.ip} are not of one family`);
  const egress = judge(resolved, c, 'egress');
  const ingress = judge(resolved, c, 'ingress');
  return { allowed: egress.allowed && ingress.allowed, egress, ingress };
}

const name = (e: Endpoint): string => (e.kind === 'pod' ? `${podKey(e.pod)} (${e.ip})` : e.node ? `node ${e.node} (${e.ip})` : e.ip);

function showJudgement(j: Judgement): string {
  const who = j.pod ?? 'the other end';
  const isolation = `isolated for ${j.direction} by ${j.policies.join(', ')}`;
  switch (j.reason) {
    case 'not-a-pod':
      return `${j.direction}: allowed (${j.direction === 'egress' ? 'the source' : 'the destination'} is not a pod: no policy applies)`;
    case 'host-network':
      return `${j.direction}: allowed (${who} uses the host network: no policy applies)`;
    case 'not-isolated':
      return `${j.direction}: allowed (${who}: no policy selects it for ${j.direction})`;
    case 'own-node':
      return `${j.direction}: allowed (${who}: ${isolation}; traffic between a pod and its own node always passes)`;
    case 'allowed-by':
      return `${j.direction}: allowed by ${j.policy} ${j.direction} rule ${j.rule} (${j.ruleText}) (${who}: ${isolation})`;
    case 'no-rule-allows':
      return `${j.direction}: DENIED (${who}: ${isolation}; no rule of them allows it)`;
  }
}

/** The explanation for people, a few lines; the first says the verdict. */
export function showExplanation(c: Connection, e: Explanation): string {
  return [
    `${name(c.from)} -> ${name(c.to)} ${c.port}/${c.protocol}: ${e.allowed ? 'ALLOWED' : 'DENIED'}`,
    `  ${showJudgement(e.egress)}`,
    `  ${showJudgement(e.ingress)}`,
    '  replies of an allowed connection pass (conntrack)',
  ].join('\n');
}
