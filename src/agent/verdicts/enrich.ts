// A logged packet as a verdict event people can read: the pod chain in its NFLOG prefix back to
// this node's pod and the policies isolating it, the other address to a pod where one has it, and
// what decided: for a NetworkPolicy drop, the isolating policies with no rule allowing it; for an
// accepted connection, the policy and rule `gingham policy explain` names (the same code,
// explain.ts); for a ClusterNetworkPolicy tier's verdict chain, the tier and the rule explain names.
// Pure, against the policy reconciler's last compiled view; the index is rebuilt when it changes.
import { formatIp, parseIp } from '../../net/ip.js';
import { type Endpoint, explain, showStep } from '../policy/explain.js';
import { type Direction, PROTOCOLS, type PodInfo, type Protocol, type Tier } from '../policy/model.js';
import type { CompiledView } from '../policy/reconcile.js';
import { podKey } from '../policy/resolve.js';
import { names, parseEventPrefix, tierOfChain } from '../policy/ruleset.js';
import type { LoggedPacket } from './packet.js';

/** One end of the packet: its address and port, and the pod that has the address, if any. */
export interface EventEnd {
  readonly ip: string;
  readonly port?: number;
  /** NS/NAME. */
  readonly pod?: string;
}

export interface VerdictEvent {
  /** When the kernel saw the packet (ISO 8601, UTC). */
  readonly time: string;
  readonly verdict: 'denied' | 'accepted';
  /** Whose policies judged: ingress, the destination's; egress, the source's. */
  readonly direction: Direction;
  /** Which kind decided: a ClusterNetworkPolicy tier or the NetworkPolicies. */
  readonly tier: Tier | 'NetworkPolicy';
  /** The pod of this node whose policies judged it (absent: gone since). */
  readonly namespace?: string;
  readonly pod?: string;
  readonly src: EventEnd;
  readonly dst: EventEnd;
  readonly protocol: string;
  /** The policies isolating that pod in that direction. */
  readonly policies: readonly string[];
  /** The policy and rule number that decided, when the agent can tell (a NetworkPolicy's only for accepts). */
  readonly policy?: string;
  readonly rule?: number;
  /** What decided, in words. */
  readonly reason: string;
}

interface ChainEntry {
  readonly pod: PodInfo;
  readonly direction: Direction;
  readonly policies: readonly string[];
}

const canonicalIp = (s: string): string => {
  const ip = parseIp(s);
  return ip ? formatIp(ip) : s;
};

/** Looks up pod chains and addresses in one compiled view. */
class ViewIndex {
  readonly chains = new Map<string, ChainEntry>();
  readonly pods = new Map<string, PodInfo>();

  constructor(readonly view: CompiledView) {
    for (const p of view.pods) if (!p.hostNetwork) for (const ip of p.ips) this.pods.set(canonicalIp(ip), p);
    for (const rp of view.resolved) {
      for (const d of ['ingress', 'egress'] as const) {
        if (rp[d] === undefined) continue;
        for (const pod of rp.selected) {
          if (pod.node !== view.node) continue;
          const chain = names.podChain(pod, d);
          const e = this.chains.get(chain);
          this.chains.set(chain, { pod, direction: d, policies: [...(e?.policies ?? []), rp.key] });
        }
      }
    }
  }
}

/** Turns packets into events; holds the index of the last view it was given. */
export class Enricher {
  private index: ViewIndex | undefined;

  constructor(private readonly view: () => CompiledView | undefined) {}

  private current(): ViewIndex | undefined {
    const v = this.view();
    if (v === undefined) return undefined;
    if (this.index?.view !== v) this.index = new ViewIndex(v);
    return this.index;
  }

  /** The event for a packet (undefined: its prefix is not one of ours). */
  event(p: LoggedPacket): VerdictEvent | undefined {
    const tag = parseEventPrefix(p.prefix);
    if (!tag) return undefined;
    const ix = this.current();
    const d = tag.direction;
    const selfIp = d === 'ingress' ? p.dst : p.src;
    const peerIp = d === 'ingress' ? p.src : p.dst;
    const tier = tierOfChain(tag.chain);
    const entry = ix?.chains.get(tag.chain);
    const self = entry?.pod ?? ix?.pods.get(selfIp);
    const peer = ix?.pods.get(peerIp);
    const end = (ip: string, port: number | undefined): EventEnd => {
      const pod = ip === selfIp ? self : ip === peerIp ? peer : undefined;
      return { ip, ...(port !== undefined ? { port } : {}), ...(pod ? { pod: podKey(pod) } : {}) };
    };
    const policies = entry?.policies ?? [];
    const base = {
      time: p.time,
      verdict: tag.verdict === 'deny' ? ('denied' as const) : ('accepted' as const),
      direction: d,
      tier: tier ?? ('NetworkPolicy' as const),
      ...(self ? { namespace: self.namespace, pod: self.name } : {}),
      src: end(p.src, p.srcPort),
      dst: end(p.dst, p.dstPort),
      protocol: p.protocol,
      policies,
    };
    if (tier) {
      // The tier's rule, as explain finds it (for a packet without ports, the tier alone).
      const protocol = p.protocol as Protocol;
      if (self && ix && PROTOCOLS.includes(protocol) && p.dstPort !== undefined) {
        const selfEnd: Endpoint = { kind: 'pod', pod: self, ip: selfIp };
        const peerEnd: Endpoint = peer ? { kind: 'pod', pod: peer, ip: peerIp } : { kind: 'ip', ip: peerIp };
        const [from, to] = d === 'ingress' ? [peerEnd, selfEnd] : [selfEnd, peerEnd];
        const step = explain(ix.view.resolved, { from, to, port: p.dstPort, protocol }, ix.view.cluster)[d].decided;
        if (step?.tier === tier) return { ...base, policy: step.policy, rule: step.rule, reason: `${tag.verdict === 'deny' ? 'denied' : 'allowed'} by ${showStep(step, d)}` };
      }
      return { ...base, reason: `${tag.verdict === 'deny' ? 'denied' : 'allowed'} by a ${tier} ClusterNetworkPolicy rule` };
    }
    if (!entry) return { ...base, reason: `pod chain ${tag.chain} is no longer in the agent's rules` };
    if (tag.verdict === 'deny') return { ...base, reason: `isolated by ${policies.join(', ')}, no rule allows` };
    // Accepted: which rule, as explain judges it (TCP, UDP and SCTP with a port; for anything
    // else, and should the view have moved on since, the isolating policies).
    const protocol = p.protocol as Protocol;
    if (PROTOCOLS.includes(protocol) && p.dstPort !== undefined && ix) {
      const selfEnd: Endpoint = { kind: 'pod', pod: entry.pod, ip: selfIp };
      const peerEnd: Endpoint = peer ? { kind: 'pod', pod: peer, ip: peerIp } : { kind: 'ip', ip: peerIp };
      const [from, to] = d === 'ingress' ? [peerEnd, selfEnd] : [selfEnd, peerEnd];
      const j = explain(ix.view.resolved, { from, to, port: p.dstPort, protocol }, ix.view.cluster)[d];
      if (j.reason === 'allowed-by' && j.policy !== undefined && j.rule !== undefined) {
        return { ...base, policy: j.policy, rule: j.rule, reason: `allowed by ${j.policy} ${d} rule ${j.rule} (${j.ruleText})` };
      }
    }
    return { ...base, reason: `allowed by a rule of ${policies.join(', ')}` };
  }
}
