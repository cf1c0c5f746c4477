// The second half of the compiler, pure: resolved policies and this node's pods -> ipsets and
// filter chains per family. The shape (README: NetworkPolicy) keeps the rule count growing with
// policies, not with pods x policies:
//
//   FORWARD -> GINGHAM-NP-FORWARD   replies (and IPv6 neighbour discovery) pass; then the egress,
//                                   then the ingress dispatch
//   INPUT   -> GINGHAM-NP-INPUT     the same, with the egress dispatch only (a pod to its node)
//   GINGHAM-NP-EGRESS / -INGRESS    one jump per isolated local pod, by its address
//   GINGHAM-NPE-/NPI-<pod>          clear the allow mark, jump to each policy that isolates the
//                                   pod, RETURN if one marked the packet, else (log and) REJECT
//   GINGHAM-NPPE-/NPPI-<policy>     one rule per peer x port of each rule: mark the packet allowed
//
// Peers are ipsets: a hash:ip set per pod peer (its namespaces and pod selector), a hash:net set per
// ipBlock (its excepts as nomatch entries), shared by every rule that names the same peer. A named
// port is a hash:ip set of the pods that give the name that number. Set names depend on what they
// stand for, never on their members, so a pod coming,
// going or being relabelled changes set members only and no iptables rule, unless it is a local
// pod whose isolation changes.
//
// Rules are written in the order `iptables -S` prints them (source, destination and protocol
// first, then the matches as given, comments quoted), so the kernel layer can compare them with
// what it reads back.
import { createHash } from 'node:crypto';
import type { Family } from '../../net/ip.js';
import { ALLOW_MARK, CHAIN_PREFIX, type ChainSpec, type Direction, FORWARD_CHAIN, INPUT_CHAIN, type IpSetSpec, type PodInfo, type Ruleset, SET_PREFIX } from './model.js';
import { type ResolvedPolicy, type ResolvedPort, type ResolvedRule, familyOf, ipBlockEntries, podKey } from './resolve.js';

export interface RulesetOptions {
  /** This node's name: its pods get chains. */
  readonly node: string;
  /** Whether the kernel can match SCTP ports; without, SCTP rules with ports allow nothing. */
  readonly sctpPorts: boolean;
  /** Log dropped packets (rate-limited, prefix naming the pod and direction). */
  readonly logDrops: boolean;
}

export const EGRESS_CHAIN = `${CHAIN_PREFIX}-EGRESS`;
export const INGRESS_CHAIN = `${CHAIN_PREFIX}-INGRESS`;

const MARK = `0x${ALLOW_MARK.toString(16)}`;
const SET_ALLOW = `-j MARK --set-xmark ${MARK}/${MARK}`;
const CLEAR_ALLOW = `-j MARK --set-xmark 0x0/${MARK}`;
const IF_ALLOWED_RETURN = `-m mark --mark ${MARK}/${MARK} -j RETURN`;
const REPLIES_RETURN = '-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN';
/**
 * IPv6 needs neighbour discovery to work at all, between pods on the bridge (br_netfilter shows it
 * to FORWARD) and to the node: router solicitation and advertisement, neighbour solicitation and
 * advertisement always pass (ARP, its IPv4 counterpart, never reaches iptables).
 */
const NDP_RETURN = [133, 134, 135, 136].map((t) => `-p ipv6-icmp -m icmp6 --icmpv6-type ${t} -j RETURN`);
/** LOG prefixes are cut by the kernel at 29 characters. */
const LOG_PREFIX_MAX = 29;

const hash = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 12);
const tag = (d: Direction): string => (d === 'ingress' ? 'I' : 'E');

/** Names for what a chain or set stands for; hashes keep them inside the kernel's limits. */
export const names = {
  podChain: (pod: PodInfo, d: Direction): string => `${CHAIN_PREFIX}${tag(d)}-${hash(podKey(pod))}`,
  policyChain: (key: string, d: Direction): string => `${CHAIN_PREFIX}P${tag(d)}-${hash(key)}`,
  set: (family: Family, what: string): string => `${SET_PREFIX}${family}-${hash(what)}`,
};

/** A comment as `iptables -S` prints it back: ours always hold a space, so always quoted. */
const comment = (text: string): string => `-m comment --comment "${text.replace(/["\\]/g, '')}"`;

const hostPrefix = (f: Family): number => (f === 4 ? 32 : 128);
const rejectRule = (f: Family): string => `-j REJECT --reject-with ${f === 4 ? 'icmp-port-unreachable' : 'icmp6-port-unreachable'}`;

/** Builds one family's ruleset; collects the sets the chains refer to. */
class FamilyBuilder {
  readonly sets = new Map<string, IpSetSpec>();

  constructor(
    readonly family: Family,
    private readonly opts: RulesetOptions,
  ) {}

  /** A pod's addresses of this family (parsed once per pod, not once per set it is in). */
  private readonly podIps = new Map<PodInfo, string[]>();

  private ipsOf(pods: readonly PodInfo[]): string[] {
    const out: string[] = [];
    for (const p of pods) {
      let ips = this.podIps.get(p);
      if (!ips) this.podIps.set(p, (ips = p.ips.filter((ip) => familyOf(ip) === this.family)));
      out.push(...ips);
    }
    return out;
  }

  /** Sets computed so far, used by a rule or not. */
  private readonly known = new Map<string, IpSetSpec>();

  /** The set standing for `what`, made once: its name does not depend on its members. */
  private set(what: string, type: IpSetSpec['type'], entries: () => string[]): IpSetSpec {
    const name = names.set(this.family, what);
    let spec = this.known.get(name);
    if (!spec) this.known.set(name, (spec = { name, family: this.family, type, entries: [...new Set(entries())].sort() }));
    return spec;
  }

  /** A rule matches the set: it goes into the ruleset. */
  private use(spec: IpSetSpec): string {
    this.sets.set(spec.name, spec);
    return spec.name;
  }

  /** One match per peer ("" for every peer); none for an ipBlock of the other family. */
  private peerMatches(d: Direction, r: ResolvedRule): string[] {
    if (r.peers === 'all') return [''];
    const dir = d === 'ingress' ? 'src' : 'dst';
    const out: string[] = [];
    for (const p of r.peers) {
      if (p.kind === 'pods') {
        out.push(`-m set --match-set ${this.use(this.set(p.key, 'hash:ip', () => this.ipsOf(p.pods)))} ${dir}`);
        continue;
      }
      const entries = ipBlockEntries(p.cidr, p.except, this.family);
      if (entries.length > 0) out.push(`-m set --match-set ${this.use(this.set(`ipBlock ${p.cidr} except ${[...p.except].sort().join(',')}`, 'hash:net', () => entries))} ${dir}`);
    }
    return [...new Set(out)];
  }

  /** One port entry as [protocol part, match part] ("-p tcp", "-m tcp --dport 80"); undefined when it cannot match. */
  private portMatch(p: ResolvedPort): [string, string] | undefined {
    const proto = p.protocol.toLowerCase();
    if (p.port === undefined) return [`-p ${proto}`, ''];
    if (p.protocol === 'SCTP' && !this.opts.sctpPorts) return undefined;
    const dport = `-m ${proto} --dport ${p.endPort !== undefined ? `${p.port}:${p.endPort}` : p.port}`;
    if (!p.named) return [`-p ${proto}`, dport];
    const { pods } = p.named;
    const set = this.set(`named ${p.named.name}/${p.protocol}=${p.port}`, 'hash:ip', () => this.ipsOf(pods));
    // No pod of this family gives the name that number: nothing to match, and no set.
    if (set.entries.length === 0) return undefined;
    return [`-p ${proto}`, `-m set --match-set ${this.use(set)} dst ${dport}`];
  }

  policyChain(rp: ResolvedPolicy, d: Direction): ChainSpec {
    const rules: string[] = [];
    for (const r of rp[d] ?? []) {
      const note = comment(`${rp.key} ${d} rule ${r.index}`);
      const ports = r.ports === 'all' ? [['', ''] as [string, string]] : r.ports.map((p) => this.portMatch(p)).filter((m) => m !== undefined);
      for (const peer of this.peerMatches(d, r)) {
        for (const [proto, match] of ports) rules.push([proto, note, peer, match, SET_ALLOW].filter(Boolean).join(' '));
      }
    }
    return { name: names.policyChain(rp.key, d), rules };
  }

  podChain(pod: PodInfo, d: Direction, policies: readonly ResolvedPolicy[]): ChainSpec {
    const rules = [CLEAR_ALLOW];
    for (const rp of policies) rules.push(`${comment(`${rp.key} ${d}`)} -j ${names.policyChain(rp.key, d)}`);
    rules.push(IF_ALLOWED_RETURN);
    if (this.opts.logDrops) {
      const prefix = `gingham drop ${d === 'ingress' ? 'in' : 'out'} ${podKey(pod)}`.slice(0, LOG_PREFIX_MAX - 2);
      rules.push(`-m limit --limit 10/min -j LOG --log-prefix "${prefix}: "`);
    }
    rules.push(rejectRule(this.family));
    return { name: names.podChain(pod, d), rules };
  }

  dispatch(pod: PodInfo, d: Direction): string[] {
    const flag = d === 'ingress' ? '-d' : '-s';
    return this.ipsOf([pod]).map((ip) => `${flag} ${ip}/${hostPrefix(this.family)} ${comment(`${podKey(pod)} ${d}`)} -j ${names.podChain(pod, d)}`);
  }
}

/**
 * The ruleset for this node. A family gets chains only when one of this node's pods with an
 * address of that family is isolated; otherwise it is empty, and the kernel layer removes
 * everything of ours (hooks included) for it.
 */
export function buildRuleset(resolved: readonly ResolvedPolicy[], opts: RulesetOptions): Ruleset {
  // Local pods and the policies isolating each, per direction, in one pass over the selections.
  const isolatedBy = { ingress: new Map<string, { pod: PodInfo; policies: ResolvedPolicy[] }>(), egress: new Map<string, { pod: PodInfo; policies: ResolvedPolicy[] }>() };
  for (const rp of resolved) {
    for (const d of ['ingress', 'egress'] as const) {
      if (rp[d] === undefined) continue;
      for (const pod of rp.selected) {
        if (pod.node !== opts.node) continue;
        const k = podKey(pod);
        let e = isolatedBy[d].get(k);
        if (!e) isolatedBy[d].set(k, (e = { pod, policies: [] }));
        e.policies.push(rp);
      }
    }
  }
  const build = (family: Family): Ruleset[Family] => {
    const b = new FamilyBuilder(family, opts);
    const dispatch: Record<Direction, string[]> = { ingress: [], egress: [] };
    const podChains: ChainSpec[] = [];
    const policyChains = new Map<string, ChainSpec>();
    for (const d of ['egress', 'ingress'] as const) {
      const entries = [...isolatedBy[d].values()].sort((x, y) => (podKey(x.pod) < podKey(y.pod) ? -1 : 1));
      for (const { pod, policies } of entries) {
        const jumps = b.dispatch(pod, d);
        if (jumps.length === 0) continue;
        dispatch[d].push(...jumps);
        podChains.push(b.podChain(pod, d, policies));
        for (const rp of policies) {
          const c = names.policyChain(rp.key, d);
          if (!policyChains.has(c)) policyChains.set(c, b.policyChain(rp, d));
        }
      }
    }
    if (dispatch.ingress.length + dispatch.egress.length === 0) return { sets: [], chains: [] };
    const always = family === 6 ? [REPLIES_RETURN, ...NDP_RETURN] : [REPLIES_RETURN];
    const chains: ChainSpec[] = [
      { name: FORWARD_CHAIN, rules: [...always, `-j ${EGRESS_CHAIN}`, `-j ${INGRESS_CHAIN}`] },
      { name: INPUT_CHAIN, rules: [...always, `-j ${EGRESS_CHAIN}`] },
      { name: EGRESS_CHAIN, rules: dispatch.egress },
      { name: INGRESS_CHAIN, rules: dispatch.ingress },
      ...podChains,
      ...[...policyChains.values()].sort((x, y) => (x.name < y.name ? -1 : 1)),
    ];
    return { sets: [...b.sets.values()].sort((x, y) => (x.name < y.name ? -1 : 1)), chains };
  };
  return { 4: build(4), 6: build(6) };
}
