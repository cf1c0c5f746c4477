// The second half of the compiler, pure: resolved policies and this node's pods -> address sets
// and filter chains per family. The shape (README: NetworkPolicy, ClusterNetworkPolicy) keeps the rule
// count growing with policies and rules, not with pods x policies:
//
//   FORWARD -> GINGHAM-NP-FORWARD   replies (and IPv6 neighbour discovery) pass; then the egress,
//                                   then the ingress dispatch
//   INPUT -> GINGHAM-NP-INPUT       only while a ClusterNetworkPolicy judges a local pod's egress:
//                                   the same, to GINGHAM-NP-EGRESS-LOCAL (a pod to its own node)
//   GINGHAM-NP-EGRESS / -INGRESS    clear the marks; the Admin tier chain (RETURN if it accepted);
//                                   the dispatch: by address, to the NetworkPolicy-isolated pod's chain;
//                                   RETURN if allowed; forget a Pass; the Baseline tier chain
//   GINGHAM-NPE-/NPI-<pod>          clear the allow mark, jump to each policy that isolates the
//                                   pod, RETURN if one marked the packet (a verdict event first,
//                                   when asked), else (verdict event and) REJECT (TCP with a
//                                   reset, the rest with ICMP port unreachable)
//   GINGHAM-NPPE-/NPPI-<policy>     one rule per peer x port of each rule: mark the packet allowed
//   GINGHAM-NP-ADMIN-EGRESS etc.    per ClusterNetworkPolicy with local subjects, in check order:
//                                   jump to its chain for its subject set; RETURN once decided
//   GINGHAM-NPAE-/NPAI-/NPBE-/NPBI-<policy>
//                                   one rule per peer x port entry of each rule, in written order:
//                                   go (goto) to the tier's ACCEPT chain (both marks), to
//                                   GINGHAM-NP-PASS (the decided mark alone) or to the tier's DROP
//                                   chain (verdict event, DROP: silent, as the API's suite expects)
//
// Peers are address sets: one of addresses per pod peer (its namespaces and pod selector), one of
// networks per ipBlock (minus its excepts), shared by every rule that names the same peer. A named
// port is a set of the pods that give the name that number. Set names depend on what they stand
// for, never on their members, so a pod coming, going or being relabelled changes set members
// only and no rule, unless it is a local pod whose isolation changes.
//
// Everything is the packet-filter model (kernel/packet-filter/model.ts), the same for every
// dataplane: the per-pod jumps of the EGRESS and INGRESS chains are one Dispatch step (iptables
// renders a rule per address, nftables one verdict-map lookup).
import { hash as digest } from 'node:crypto';
import { freeText } from '../../kernel/iptables-text.js';
import { type Action, type AddrSet, COMMENT_MAX, type Chain, type DispatchEntry, type Hook, type PortRange, type Rule, type SetMatch, type Step, isDispatch } from '../../kernel/packet-filter/model.js';
import type { Family } from '../../net/ip.js';
import {
  ALLOW_MARK,
  CHAIN_PREFIX,
  type ClusterPolicy,
  DECIDED_MARK,
  type Direction,
  FORWARD_CHAIN,
  FORWARD_HOOK,
  INPUT_CHAIN,
  INPUT_HOOK,
  type PodInfo,
  type Policy,
  type Ruleset,
  SET_PREFIX,
  type Tier,
} from './model.js';
import {
  type ResolvedClusterPolicy,
  type ResolvedClusterRule,
  type ResolvedPeer,
  type ResolvedPolicy,
  type ResolvedPort,
  type ResolvedRule,
  familyOf,
  ipBlockEntries,
  podKey,
} from './resolve.js';

export interface RulesetOptions {
  /** This node's name: its pods get chains. */
  readonly node: string;
  /** Whether the kernel can match SCTP ports; without, SCTP rules with ports allow nothing. */
  readonly sctpPorts: boolean;
  /** A verdict event (NFLOG) for each packet a policy drops, rate-limited per pod chain. */
  readonly logDrops: boolean;
  /** A verdict event for each new connection a policy accepts, likewise. */
  readonly logAccepts?: boolean;
}

export const EGRESS_CHAIN = `${CHAIN_PREFIX}-EGRESS`;
export const INGRESS_CHAIN = `${CHAIN_PREFIX}-INGRESS`;

const BOTH = ALLOW_MARK | DECIDED_MARK;
const RETURN: Action = { kind: 'return' };
/** mark = (mark & ~mask) ^ value: set (value = mask) or clear (value 0) the mask's bits. */
const markRule = (value: number, mask: number): Rule => ({ action: { kind: 'mark', value, mask } });
const SET_ALLOW = markRule(ALLOW_MARK, ALLOW_MARK);
const CLEAR_ALLOW = markRule(0, ALLOW_MARK);
const IF_ALLOWED_RETURN: Rule = { mark: { value: ALLOW_MARK, mask: ALLOW_MARK }, action: RETURN };
const REPLIES_RETURN: Rule = { ct: 'established-related', action: RETURN };
const CLEAR_BOTH = markRule(0, BOTH);
const CLEAR_DECIDED = markRule(0, DECIDED_MARK);
const IF_DECIDED_RETURN: Rule = { mark: { value: DECIDED_MARK, mask: DECIDED_MARK }, action: RETURN };
/** A jump to a chain, one object per chain name (the fixed chains are then the same objects pass after pass). */
const jumps = new Map<string, Rule>();
const jumpTo = (chain: string): Rule => {
  let r = jumps.get(chain);
  if (!r) jumps.set(chain, (r = { action: { kind: 'jump', chain } }));
  return r;
};

/** ClusterNetworkPolicy egress from local pods to their own node (the INPUT hook's one jump). */
export const EGRESS_LOCAL_CHAIN = `${CHAIN_PREFIX}-EGRESS-LOCAL`;
/** Where a rule with action Pass goes: decided, not allowed; the next tier decides. */
export const PASS_CHAIN = `${CHAIN_PREFIX}-PASS`;
const TIER_WORD: Record<Tier, string> = { Admin: 'ADMIN', Baseline: 'BASELINE' };
/** A tier's chain for a direction: a jump per policy with local subjects, in check order. */
export const tierChain = (t: Tier, d: Direction): string => `${CHAIN_PREFIX}-${TIER_WORD[t]}-${d === 'ingress' ? 'INGRESS' : 'EGRESS'}`;
/** Where a tier's Accept and Deny rules go (per tier and direction, so a verdict event names both). */
export const verdictChain = (v: Verdict, t: Tier, d: Direction): string => `${CHAIN_PREFIX}-${TIER_WORD[t]}-${v === 'accept' ? 'ACCEPT' : 'DROP'}-${tag(d)}`;
/** The tier a verdict chain belongs to (undefined: not a tier's verdict chain, e.g. a v1 pod chain). */
export function tierOfChain(chain: string): Tier | undefined {
  const m = /^GINGHAM-NP-(ADMIN|BASELINE)-(?:ACCEPT|DROP)-[EI]$/.exec(chain);
  return m ? (m[1] === 'ADMIN' ? 'Admin' : 'Baseline') : undefined;
}

/**
 * Verdict events (README: Verdict events) go to this netlink log group, read by the agent's ulogd
 * child. Groups are per network namespace and one reader each: 0-2 are the ones ulogd's examples
 * and Calico use; this one echoes the agent's health port.
 */
export const NFLOG_GROUP = 9917;
/**
 * Each event copies the packet's first 128 bytes: the IPv4 or IPv6 header and the TCP, UDP, SCTP
 * or ICMP header behind it, never much payload.
 */
const NFLOG_SIZE = 128;
/**
 * Per rule, so per pod chain (pod, direction, family) and verdict: 10 events a second, bursts of
 * 20. A student's trial connections all show; a pod flooding a closed port costs the kernel a
 * token-bucket check on packets it rejects anyway and the agent at most 10 lines a second, and
 * other pods' events are not crowded out (the agent bounds the total too).
 */
const EVENT_LIMIT = { perSecond: 10, burst: 20 } as const;

export type Verdict = 'accept' | 'deny';
/** The prefix of a pod chain's verdict events: what the agent reads the pod and direction back from. */
export const eventPrefix = (verdict: Verdict, d: Direction, chain: string): string => `gingham ${verdict} ${d} ${chain}`;
/** The prefix's parts (undefined: not one of ours). */
export function parseEventPrefix(prefix: string): { verdict: Verdict; direction: Direction; chain: string } | undefined {
  const m = /^gingham (accept|deny) (ingress|egress) (\S+)$/.exec(prefix);
  return m ? { verdict: m[1] as Verdict, direction: m[2] as Direction, chain: m[3]! } : undefined;
}
const eventAction = (verdict: Verdict, d: Direction, chain: string): Action => ({ kind: 'log', prefix: eventPrefix(verdict, d, chain), group: NFLOG_GROUP, snaplen: NFLOG_SIZE });
/**
 * IPv6 needs neighbour discovery to work at all, between pods on the bridge (br_netfilter shows it
 * to FORWARD) and to the node: router solicitation and advertisement, neighbour solicitation and
 * advertisement always pass (ARP, its IPv4 counterpart, never reaches iptables).
 */
const NDP_RETURN: readonly Rule[] = [133, 134, 135, 136].map((t) => ({ proto: 'icmpv6', icmpv6Type: t, action: RETURN }));

/** Names are hashes of what they stand for; the same few thousand come back on every pass. */
const hashes = new Map<string, string>();
const HASHES_MAX = 100_000;

function hash(s: string): string {
  let h = hashes.get(s);
  if (h === undefined) {
    if (hashes.size >= HASHES_MAX) hashes.clear();
    hashes.set(s, (h = digest('sha256', s, 'hex').slice(0, 12)));
  }
  return h;
}

const tag = (d: Direction): string => (d === 'ingress' ? 'I' : 'E');

/** Names for what a chain or set stands for; hashes keep them inside the kernel's limits. */
export const names = {
  podChain: (pod: PodInfo, d: Direction): string => `${CHAIN_PREFIX}${tag(d)}-${hash(podKey(pod))}`,
  policyChain: (key: string, d: Direction): string => `${CHAIN_PREFIX}P${tag(d)}-${hash(key)}`,
  /** A ClusterNetworkPolicy's rules for a direction: GINGHAM-NPAE-, NPAI-, NPBE-, NPBI-<hash of its name>. */
  clusterChain: (t: Tier, name: string, d: Direction): string => `${CHAIN_PREFIX}${t === 'Admin' ? 'A' : 'B'}${tag(d)}-${hash(`cnp ${name}`)}`,
  set: (family: Family, what: string): string => `${SET_PREFIX}${family}-${hash(what)}`,
};

/**
 * A comment naming what a rule is for. Names come from the API server: control characters become
 * '?', and the text is cut to what every dataplane keeps (each renderer quotes it its own way).
 */
const comment = (text: string): string => freeText(text, COMMENT_MAX);
/**
 * A denied TCP connection is refused with a reset; anything else with an ICMP port unreachable.
 * The kernel rate-limits the ICMP errors it sends (net.ipv4.icmp_ratelimit, about one a second per
 * destination after a small burst), so with ICMP alone a pod trying more than a few denied
 * connections a second would see the rest hang until its SYN retries time out (each retry another
 * drop and verdict event) instead of being refused at once. Resets are not rate-limited.
 */
const DROP: Rule = { action: { kind: 'drop' } };
const TCP_RESET: Rule = { proto: 'tcp', action: { kind: 'reject', with: 'tcp-reset' } };
/** ICMP or ICMPv6 port unreachable, by the family the rule is rendered for. */
const REJECT: Rule = { action: { kind: 'reject', with: 'port-unreachable' } };

const sameItems = <T>(a: readonly T[], b: readonly T[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** A rule's content as text, per rule object (rules are small; the same objects come back). */
const ruleKeys = new WeakMap<Rule, string>();
function ruleKey(r: Rule): string {
  let key = ruleKeys.get(r);
  if (key === undefined) ruleKeys.set(r, (key = JSON.stringify(r)));
  return key;
}

/** Whether two steps say the same: the same rule, or a dispatch to the same entry objects. */
function sameStep(a: Step, b: Step): boolean {
  if (a === b) return true;
  if (isDispatch(a) || isDispatch(b)) {
    if (!isDispatch(a) || !isDispatch(b)) return false;
    const [x, y] = [a.dispatch, b.dispatch];
    return x.by === y.by && x.map === y.map && sameItems(x.entries, y.entries);
  }
  return ruleKey(a) === ruleKey(b);
}
const sameSteps = (a: readonly Step[], b: readonly Step[]): boolean => a.length === b.length && a.every((x, i) => sameStep(x, b[i]!));

const PROTO = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' } as const;

/** A port entry's part of a rule: protocol, port range, named-port set ({}: every packet). */
interface PortPart {
  readonly proto?: 'tcp' | 'udp' | 'sctp';
  readonly dport?: PortRange;
  readonly set?: SetMatch;
}

/** One rule of a policy's chain: a peer (undefined: every peer) and a port entry. */
function peerPortRule(note: string, peer: SetMatch | undefined, port: PortPart, action: Action): Rule {
  const sets = peer && port.set ? [peer, port.set] : peer ? [peer] : port.set ? [port.set] : undefined;
  return { ...(port.proto ? { proto: port.proto } : {}), comment: note, ...(sets ? { sets } : {}), ...(port.dport ? { dport: port.dport } : {}), action };
}

/** One match per set name, in order (rules naming the same peer twice match it once). */
function uniqueSets(sets: readonly SetMatch[]): SetMatch[] {
  const seen = new Set<string>();
  return sets.filter((m) => {
    if (seen.has(m.set)) return false;
    seen.add(m.set);
    return true;
  });
}

/** A set and the pod list it was filled from (undefined: its entries follow from what it stands for). */
interface SetEntry {
  readonly what: string;
  readonly source: readonly object[] | undefined;
  readonly spec: AddrSet;
}

interface PolicyChainEntry {
  /** The resolution it was made from: while the same, so are its sets. */
  readonly rp: ResolvedPolicy;
  readonly sets: readonly SetEntry[];
  /** Each named port's number, "-" after it when no pod of this family gives it (see policyChain). */
  readonly named: readonly string[];
  readonly chain: Chain;
}

interface PodChainEntry {
  /** The keys of the policies it jumps to, in order. */
  readonly policies: readonly string[];
  readonly chain: Chain;
}

/**
 * What one family's builds keep from pass to pass, keyed by the immutable objects they were made
 * from: a pod's addresses and dispatch rules by its PodInfo, a policy's chains by its Policy (kept
 * while its resolution, or at least its named-port numbers, are the same: see policyChain), a set
 * by what it stands for and the pod list it was filled from, a pod's chain by the policies it
 * jumps to. Entries a pass does not use are dropped (or left to the garbage collector).
 */
class FamilyMemory {
  readonly podIps = new WeakMap<PodInfo, readonly string[]>();
  readonly dispatch = new WeakMap<PodInfo, Partial<Record<Direction, readonly DispatchEntry[]>>>();
  /** A numbered port's match ('none': it cannot match), by the resolver's port object. */
  readonly ports = new WeakMap<ResolvedPort, PortPart | 'none'>();
  /** A policy's chains, with what they were made from (see policyChain). */
  readonly policyChains = new WeakMap<Policy, Partial<Record<Direction, PolicyChainEntry>>>();
  sets = new Map<string, SetEntry>();
  /** Pod chains by direction and pod key. */
  podChains: Record<Direction, Map<string, PodChainEntry>> = { ingress: new Map(), egress: new Map() };
  dispatchChains: Partial<Record<Direction, Chain>> = {};
  /** A ClusterNetworkPolicy's chains, with the resolution they were made from. */
  readonly clusterChains = new WeakMap<ClusterPolicy, Partial<Record<Direction, { readonly rcp: ResolvedClusterPolicy; readonly sets: readonly SetEntry[]; readonly chain: Chain }>>>();
  /** The other chains of the tiers, by name: last pass's object while its rules are the same. */
  fixedChains = new Map<string, Chain>();

  constructor(readonly family: Family) {}
}

/** Builds one family's ruleset for one pass; collects the sets the chains refer to. */
class FamilyBuilder {
  /** Sets a rule matches on: they go into the ruleset. */
  readonly sets = new Map<string, AddrSet>();
  /** Sets computed this pass, used by a rule or not, by what they stand for. */
  private readonly setsNow = new Map<string, SetEntry>();
  private readonly podChainsNow: Record<Direction, Map<string, PodChainEntry>> = { ingress: new Map(), egress: new Map() };
  readonly family: Family;

  constructor(
    private readonly memory: FamilyMemory,
    private readonly opts: RulesetOptions,
  ) {
    this.family = memory.family;
  }

  /** A pod's addresses of this family (parsed once per pod object, not once per set it is in). */
  private ipsOfPod(p: PodInfo): readonly string[] {
    let ips = this.memory.podIps.get(p);
    if (!ips) this.memory.podIps.set(p, (ips = p.ips.filter((ip) => familyOf(ip) === this.family)));
    return ips;
  }

  private ipsOf(pods: readonly PodInfo[]): string[] {
    const out: string[] = [];
    for (const p of pods) out.push(...this.ipsOfPod(p));
    return out;
  }

  /** The set standing for `what`, made once: its name does not depend on its members. */
  private set(what: string, kind: AddrSet['kind'], source: readonly object[] | undefined, members: () => { entries: readonly string[]; except?: readonly string[] }): SetEntry {
    let entry = this.setsNow.get(what);
    if (entry) return entry;
    const before = this.memory.sets.get(what);
    if (before && before.source === source && before.spec.kind === kind) entry = before;
    else {
      const m = members();
      const except = m.except && m.except.length > 0 ? { except: [...new Set(m.except)].sort() } : {};
      entry = { what, source, spec: { name: names.set(this.family, what), family: this.family, kind, entries: [...new Set(m.entries)].sort(), ...except } };
    }
    this.setsNow.set(what, entry);
    return entry;
  }

  /** The text naming an ipBlock's set, per peer object (the resolver hands out the same one each pass). */
  private static readonly blockWhat = new WeakMap<ResolvedPeer, string>();

  /**
   * The sets one rule of a policy refers to, in the order its matches use them (undefined: a peer
   * or named port with nothing of this family to match), filled with the current members.
   */
  private ruleSets(r: ResolvedRule): { peers: (SetEntry | undefined)[]; ports: (SetEntry | undefined)[] } {
    const peers: (SetEntry | undefined)[] = [];
    const ports: (SetEntry | undefined)[] = [];
    if (r.peers !== 'all') {
      for (const p of r.peers) {
        if (p.kind === 'pods') {
          peers.push(this.set(p.key, 'addrs', p.pods, () => ({ entries: this.ipsOf(p.pods) })));
          continue;
        }
        let what = FamilyBuilder.blockWhat.get(p);
        if (what === undefined) FamilyBuilder.blockWhat.set(p, (what = `ipBlock ${p.cidr} except ${[...p.except].sort().join(',')}`));
        const entry = this.set(what, 'nets', undefined, () => ipBlockEntries(p.cidr, p.except, this.family));
        peers.push(entry.spec.entries.length > 0 ? entry : undefined);
      }
    }
    if (r.ports !== 'all') {
      for (const p of r.ports) {
        if (!p.named) continue;
        // The kernel cannot match the port: no rule, so no set.
        if (p.protocol === 'SCTP' && !this.opts.sctpPorts) {
          ports.push(undefined);
          continue;
        }
        const { pods } = p.named;
        const entry = this.set(`named ${p.named.name}/${p.protocol}=${p.port}`, 'addrs', pods, () => ({ entries: this.ipsOf(pods) }));
        ports.push(entry.spec.entries.length > 0 ? entry : undefined);
      }
    }
    return { peers, ports };
  }

  /** One match per peer (undefined for every peer); none for an ipBlock of the other family. */
  private peerMatches(d: Direction, r: ResolvedRule, sets: readonly (SetEntry | undefined)[]): (SetMatch | undefined)[] {
    if (r.peers === 'all') return [undefined];
    const dir = d === 'ingress' ? 'src' : 'dst';
    const out: SetMatch[] = [];
    for (const s of sets) if (s) out.push({ set: s.spec.name, dir });
    return uniqueSets(out);
  }

  /** One port entry's part of a rule (protocol, port, named-port set); undefined when it cannot match. */
  private portMatch(p: ResolvedPort, named: SetEntry | undefined): PortPart | undefined {
    if (p.named) return this.matchOf(p, named);
    // The resolver hands out the same object for a policy's numbered port pass after pass.
    const cached = this.memory.ports.get(p);
    if (cached !== undefined) return cached === 'none' ? undefined : cached;
    const m = this.matchOf(p, undefined);
    this.memory.ports.set(p, m ?? 'none');
    return m;
  }

  private matchOf(p: ResolvedPort, named: SetEntry | undefined): PortPart | undefined {
    const proto = PROTO[p.protocol];
    if (p.port === undefined) return { proto };
    if (p.protocol === 'SCTP' && !this.opts.sctpPorts) return undefined;
    const dport = { from: p.port, to: p.endPort ?? p.port };
    if (!p.named) return { proto, dport };
    // No pod of this family gives the name that number: nothing to match, and no set.
    if (!named) return undefined;
    return { proto, dport, set: { set: named.spec.name, dir: 'dst' } };
  }

  /**
   * Last pass's chain of an unchanged resolution: the same members, so the same sets (refilled
   * only if dropped meanwhile).
   */
  private reuse(hit: { readonly sets: readonly SetEntry[]; readonly chain: Chain }): Chain {
    for (const s of hit.sets) {
      if (!this.setsNow.has(s.what)) this.setsNow.set(s.what, s);
      this.sets.set(s.spec.name, s.spec);
    }
    return hit.chain;
  }

  /**
   * A policy's chain. Its rules depend on the policy and on which named-port numbers have members
   * of this family, never on who the members are (set names say what a set stands for), so the
   * chain object of the last pass stays while those are the same; the sets it uses are refilled.
   */
  policyChain(rp: ResolvedPolicy, d: Direction): Chain {
    let cached = this.memory.policyChains.get(rp.policy);
    const hit = cached?.[d];
    if (hit?.rp === rp) return this.reuse(hit);
    const rules = rp[d] ?? [];
    const sets = rules.map((r) => this.ruleSets(r));
    const used = sets.flatMap((s) => [...s.peers, ...s.ports]).filter((s) => s !== undefined);
    for (const s of used) this.sets.set(s.spec.name, s.spec);
    const named = rules.flatMap((r, i) => (r.ports === 'all' ? [] : r.ports.filter((p) => p.named).map((p, j) => `${p.port}${sets[i]!.ports[j] ? '' : '-'}`)));
    let chain = hit && sameItems(hit.named, named) ? hit.chain : undefined;
    if (!chain) {
      const lines: Rule[] = [];
      rules.forEach((r, i) => {
        const note = comment(`${rp.key} ${d} rule ${r.index}`);
        let n = 0;
        const ports = r.ports === 'all' ? [{}] : r.ports.map((p) => this.portMatch(p, p.named ? sets[i]!.ports[n++] : undefined)).filter((m) => m !== undefined);
        for (const peer of this.peerMatches(d, r, sets[i]!.peers)) {
          for (const port of ports) lines.push(peerPortRule(note, peer, port, SET_ALLOW.action));
        }
      });
      chain = { name: names.policyChain(rp.key, d), rules: lines };
    }
    if (!cached) this.memory.policyChains.set(rp.policy, (cached = {}));
    cached[d] = { rp, sets: used, named, chain };
    return chain;
  }

  /** A pod's chain (`key`: its podKey); the same object as last pass while the policies isolating it are. */
  podChain(pod: PodInfo, key: string, d: Direction, policies: readonly ResolvedPolicy[]): Chain {
    const before = this.memory.podChains[d].get(key);
    if (before && before.policies.length === policies.length && policies.every((rp, i) => rp.key === before.policies[i])) {
      this.podChainsNow[d].set(key, before);
      return before.chain;
    }
    const name = names.podChain(pod, d);
    const rules: Rule[] = [CLEAR_ALLOW];
    for (const rp of policies) rules.push({ comment: comment(`${rp.key} ${d}`), action: { kind: 'jump', chain: names.policyChain(rp.key, d) } });
    // A new connection the allow mark lets through (replies never get here: the hook chain returns them).
    if (this.opts.logAccepts) rules.push({ ct: 'new', mark: IF_ALLOWED_RETURN.mark!, limit: EVENT_LIMIT, action: eventAction('accept', d, name) });
    rules.push(IF_ALLOWED_RETURN);
    if (this.opts.logDrops) rules.push({ limit: EVENT_LIMIT, action: eventAction('deny', d, name) });
    rules.push(TCP_RESET, REJECT);
    const chain = { name, rules };
    this.podChainsNow[d].set(key, { policies: policies.map((rp) => rp.key), chain });
    return chain;
  }

  /** A chain whose rules follow from the ruleset's shape: last pass's object while they are the same. */
  fixedChain(name: string, rules: readonly Step[]): Chain {
    const before = this.memory.fixedChains.get(name);
    const chain = before && sameSteps(before.rules, rules) ? before : { name, rules };
    this.fixedNow.set(name, chain);
    return chain;
  }

  private readonly fixedNow = new Map<string, Chain>();

  /** A set of some pods' addresses of this family (undefined: none has one), used by a rule. */
  podSet(what: string, pods: readonly PodInfo[]): SetEntry | undefined {
    const entry = this.set(what, 'addrs', pods, () => ({ entries: this.ipsOf(pods) }));
    if (entry.spec.entries.length === 0) return undefined;
    this.sets.set(entry.spec.name, entry.spec);
    return entry;
  }

  /** The set of a tier's subject pods on this node (`local`: the same list object while they are the same). */
  subjectSet(key: string, local: readonly PodInfo[]): SetEntry {
    const entry = this.set(`subject ${key} on this node`, 'addrs', local, () => ({ entries: this.ipsOf(local) }));
    if (entry.spec.entries.length > 0) this.sets.set(entry.spec.name, entry.spec);
    return entry;
  }

  /**
   * A ClusterNetworkPolicy's chain for a direction: per rule in written order, per peer and port
   * entry, a match that goes (-g) to the tier's verdict chain of the rule's action. A packet that
   * matches nothing returns to the tier chain undecided. Rebuilt when its resolution changes.
   */
  clusterChain(rcp: ResolvedClusterPolicy, d: Direction): Chain {
    let cached = this.memory.clusterChains.get(rcp.policy);
    const hit = cached?.[d];
    if (hit?.rcp === rcp) return this.reuse(hit);
    const used: SetEntry[] = [];
    const lines: Rule[] = [];
    for (const r of rcp[d]) lines.push(...this.clusterRule(rcp, r, d, used));
    for (const s of used) this.sets.set(s.spec.name, s.spec);
    const chain = { name: names.clusterChain(rcp.tier, rcp.key, d), rules: lines };
    if (!cached) this.memory.clusterChains.set(rcp.policy, (cached = {}));
    cached[d] = { rcp, sets: used, chain };
    return chain;
  }

  private clusterRule(rcp: ResolvedClusterPolicy, r: ResolvedClusterRule, d: Direction, used: SetEntry[]): Rule[] {
    const { action } = r.rule;
    const target = action === 'Accept' ? verdictChain('accept', rcp.tier, d) : action === 'Pass' ? PASS_CHAIN : verdictChain('deny', rcp.tier, d);
    const dir = d === 'ingress' ? 'src' : 'dst';
    // undefined: every peer.
    const peers: (SetMatch | undefined)[] = [];
    if (r.peers === 'all') peers.push(undefined);
    else {
      for (const p of r.peers) {
        let entry: SetEntry | undefined;
        if (p.kind === 'pods') entry = this.set(p.key, 'addrs', p.pods, () => ({ entries: this.ipsOf(p.pods) }));
        else if (p.kind === 'nodes') entry = this.set(`nodes ${p.key}`, 'addrs', p.nodes, () => ({ entries: p.nodes.flatMap((n) => n.ips.filter((ip) => familyOf(ip) === this.family)) }));
        else if (p.kind === 'networks') {
          const cidrs = [...p.cidrs].sort();
          entry = this.set(`networks ${cidrs.join(',')}`, 'nets', undefined, () => ({ entries: cidrs.flatMap((c) => ipBlockEntries(c, [], this.family).entries) }));
          // No network of this family: nothing to match.
          if (entry.spec.entries.length === 0) continue;
        }
        // domainNames: not enforced, so the peer matches nothing.
        if (!entry) continue;
        used.push(entry);
        peers.push({ set: entry.spec.name, dir });
      }
    }
    const ports: (readonly [PortPart, string])[] = [];
    if (r.ports === 'all') ports.push([{}, target]);
    else {
      for (const p of r.ports) {
        let named: SetEntry | undefined;
        if (p.named && (p.protocol !== 'SCTP' || this.opts.sctpPorts)) {
          const { pods } = p.named;
          named = this.set(`named ${p.named.name}/${p.protocol}=${p.port}`, 'addrs', pods, () => ({ entries: this.ipsOf(pods) }));
          if (named.spec.entries.length === 0) continue;
          used.push(named);
        }
        const m = this.portMatch(p, named);
        if (m) ports.push([m, target]);
        // An SCTP port the kernel cannot match: an Accept allows less; a Deny or Pass denies
        // every SCTP packet to those peers, so nothing gets past this tier that it meant to stop.
        else if (p.protocol === 'SCTP' && action !== 'Accept') ports.push([{ proto: 'sctp' }, verdictChain('deny', rcp.tier, d)]);
      }
    }
    const note = comment(`${rcp.tier} ${rcp.key} ${d} rule ${r.index}${r.rule.name ? ` ${r.rule.name}` : ''}`);
    const out: Rule[] = [];
    for (const peer of r.peers === 'all' ? peers : uniqueSets(peers.filter((p) => p !== undefined))) {
      for (const [port, to] of ports) out.push(peerPortRule(note, peer, port, { kind: 'goto', chain: to }));
    }
    return out;
  }

  /** A pod's entries in its direction's dispatch (one per address of this family), the same objects while the pod is. */
  dispatch(pod: PodInfo, d: Direction): readonly DispatchEntry[] {
    let cached = this.memory.dispatch.get(pod);
    const hit = cached?.[d];
    if (hit) return hit;
    const chain = names.podChain(pod, d);
    const note = comment(`${podKey(pod)} ${d}`);
    const entries = this.ipsOfPod(pod).map((addr): DispatchEntry => ({ addr, chain, comment: note }));
    if (!cached) this.memory.dispatch.set(pod, (cached = {}));
    cached[d] = entries;
    return entries;
  }

  /** A dispatch chain; last pass's object when its steps are the same. */
  dispatchChain(name: string, d: Direction, rules: readonly Step[]): Chain {
    const before = this.memory.dispatchChains[d];
    const chain = before && sameSteps(before.rules, rules) ? before : { name, rules };
    this.memory.dispatchChains[d] = chain;
    return chain;
  }

  /** Keep what this pass used for the next. */
  finish(): void {
    this.memory.sets = this.setsNow;
    this.memory.podChains = this.podChainsNow;
    this.memory.fixedChains = this.fixedNow;
  }
}

/** The hook chains of a family: always the same (INPUT's only while a tier judges local egress). */
const hookChains = (family: Family): { forward: Chain; input: Chain } => {
  const always = family === 6 ? [REPLIES_RETURN, ...NDP_RETURN] : [REPLIES_RETURN];
  return {
    forward: { name: FORWARD_CHAIN, rules: [...always, jumpTo(EGRESS_CHAIN), jumpTo(INGRESS_CHAIN)] },
    input: { name: INPUT_CHAIN, rules: [...always, jumpTo(EGRESS_LOCAL_CHAIN)] },
  };
};
const HOOK_CHAINS = { 4: hookChains(4), 6: hookChains(6) };
/** The hooks of a family's ruleset: FORWARD's always, INPUT's while its chain is there. */
const FORWARD_ONLY: readonly Hook[] = [FORWARD_HOOK];
const FORWARD_AND_INPUT: readonly Hook[] = [FORWARD_HOOK, INPUT_HOOK];

/** Pass: decided, not allowed (the tier chain stops; the dispatch chain goes on to the next tier). */
const PASS_SPEC: Chain = { name: PASS_CHAIN, rules: [markRule(DECIDED_MARK, DECIDED_MARK)] };

/** The dispatch maps' names (nftables; iptables renders their entries as rules). */
const DISPATCH_MAP: Record<Direction, string> = { egress: 'egress-pods', ingress: 'ingress-pods' };

const byKey = <T extends { readonly key: string }>(a: T, b: T): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
const byName = <T extends { readonly name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * Builds rulesets pass after pass, remembering what unchanged inputs gave (FamilyMemory): a pass
 * after one pod changed rebuilds that pod's chains and the sets it is in, and returns the very
 * objects of the last pass for everything else, so the kernel layer can tell unchanged chains and
 * sets by identity. Options that change start it afresh. Equal to a fresh build, always.
 */
export class RulesetBuilder {
  private memory: Record<Family, FamilyMemory> = { 4: new FamilyMemory(4), 6: new FamilyMemory(6) };
  private optsKey = '';
  private readonly keys = new WeakMap<PodInfo, string>();

  /** Last pass's isolated pods per direction, by key, in order. */
  private order: Record<Direction, readonly string[]> = { ingress: [], egress: [] };

  /** The entries sorted by key: in last pass's order when the keys are the same (no sort). */
  private inOrder<T extends { readonly key: string }>(d: Direction, entries: ReadonlyMap<string, T>): T[] {
    const before = this.order[d];
    if (before.length === entries.size) {
      const out: T[] = [];
      for (const key of before) {
        const e = entries.get(key);
        if (!e) break;
        out.push(e);
      }
      if (out.length === entries.size) return out;
    }
    const out = [...entries.values()].sort(byKey);
    this.order[d] = out.map((e) => e.key);
    return out;
  }

  private keyOf(pod: PodInfo): string {
    let key = this.keys.get(pod);
    if (key === undefined) this.keys.set(pod, (key = podKey(pod)));
    return key;
  }

  /**
   * The ruleset for this node. A family gets chains only when one of this node's pods with an
   * address of that family is isolated; otherwise it is empty, and the kernel layer removes
   * everything of ours (hooks included) for it.
   */
  build(resolved: readonly ResolvedPolicy[], opts: RulesetOptions, cluster: readonly ResolvedClusterPolicy[] = []): Ruleset {
    const optsKey = JSON.stringify([opts.node, opts.sctpPorts, opts.logDrops, opts.logAccepts === true]);
    if (optsKey !== this.optsKey) {
      this.memory = { 4: new FamilyMemory(4), 6: new FamilyMemory(6) };
      this.optsKey = optsKey;
    }
    // Local pods and the policies isolating each, per direction, in one pass over the selections.
    type Isolated = { key: string; pod: PodInfo; policies: ResolvedPolicy[] };
    const isolatedBy = { ingress: new Map<string, Isolated>(), egress: new Map<string, Isolated>() };
    for (const rp of resolved) {
      for (const d of ['ingress', 'egress'] as const) {
        if (rp[d] === undefined) continue;
        for (const pod of rp.selected) {
          if (pod.node !== opts.node) continue;
          const key = this.keyOf(pod);
          let e = isolatedBy[d].get(key);
          if (!e) isolatedBy[d].set(key, (e = { key, pod, policies: [] }));
          e.policies.push(rp);
        }
      }
    }
    const sorted = { egress: this.inOrder('egress', isolatedBy.egress), ingress: this.inOrder('ingress', isolatedBy.ingress) };
    // ClusterNetworkPolicies with local subjects, per tier and direction, in check order.
    type Judging = { rcp: ResolvedClusterPolicy; local: readonly PodInfo[] };
    const judging: Judging[] = [];
    for (const rcp of cluster) {
      const local = this.localOf(rcp.subjects, opts.node);
      if (local.length > 0 && rcp.ingress.length + rcp.egress.length > 0) judging.push({ rcp, local });
    }
    const build = (family: Family): Ruleset[Family] => {
      const b = new FamilyBuilder(this.memory[family], opts);
      const tiers = this.tierChains(b, judging, opts);
      const dispatch: Record<Direction, DispatchEntry[]> = { ingress: [], egress: [] };
      const podChains: Chain[] = [];
      const policyChains = new Map<string, Chain>();
      for (const d of ['egress', 'ingress'] as const) {
        const seen = new Set<ResolvedPolicy>();
        for (const { key, pod, policies } of sorted[d]) {
          const jumps = b.dispatch(pod, d);
          if (jumps.length === 0) continue;
          for (const j of jumps) dispatch[d].push(j);
          podChains.push(b.podChain(pod, key, d, policies));
          for (const rp of policies) {
            if (seen.has(rp)) continue;
            seen.add(rp);
            const c = names.policyChain(rp.key, d);
            if (!policyChains.has(c)) policyChains.set(c, b.policyChain(rp, d));
          }
        }
      }
      const hasTier = (t: Tier, d: Direction): boolean => tiers.chains.some((c) => c.name === tierChain(t, d));
      const wrap = (d: Direction, entries: readonly DispatchEntry[]): Step[] => {
        // The isolated pods' jumps to their chains, one step where the per-pod rules go.
        const v1: Step[] = entries.length > 0 ? [{ dispatch: { by: d === 'ingress' ? 'dst' : 'src', map: DISPATCH_MAP[d], entries } }] : [];
        const admin = hasTier('Admin', d);
        const baseline = hasTier('Baseline', d);
        if (!admin && !baseline) return v1;
        // Admin, then NetworkPolicy (whose pod chains RETURN allowed or REJECT), then Baseline.
        const out: Step[] = [CLEAR_BOTH];
        if (admin) out.push(jumpTo(tierChain('Admin', d)), IF_ALLOWED_RETURN);
        out.push(...v1);
        // A pod NetworkPolicy allowed: it decided (the pod chains of those it denies REJECT).
        if (baseline && v1.length > 0) out.push(IF_ALLOWED_RETURN);
        // Forget an Admin Pass (without an Admin tier nothing set it since the clear above).
        if (baseline) out.push(...(admin ? [CLEAR_DECIDED] : []), jumpTo(tierChain('Baseline', d)));
        return out;
      };
      const local = hasTier('Admin', 'egress') || hasTier('Baseline', 'egress');
      if (dispatch.ingress.length + dispatch.egress.length + tiers.chains.length === 0) {
        b.finish();
        return { sets: [], chains: [], hooks: [] };
      }
      const chains: Chain[] = [
        HOOK_CHAINS[family].forward,
        ...(local ? [HOOK_CHAINS[family].input] : []),
        b.dispatchChain(EGRESS_CHAIN, 'egress', wrap('egress', dispatch.egress)),
        b.dispatchChain(INGRESS_CHAIN, 'ingress', wrap('ingress', dispatch.ingress)),
        ...(local ? [b.fixedChain(EGRESS_LOCAL_CHAIN, this.egressLocal(b, sorted.egress, hasTier('Admin', 'egress'), hasTier('Baseline', 'egress')))] : []),
        ...tiers.chains,
        ...podChains,
        ...[...policyChains.values()].sort(byName),
        ...tiers.policyChains.sort(byName),
      ];
      b.finish();
      return { sets: [...b.sets.values()].sort(byName), chains, hooks: local ? FORWARD_AND_INPUT : FORWARD_ONLY };
    };
    return { 4: build(4), 6: build(6) };
  }

  /** This node's pods of a subject: the same list object while the subject's list is the same. */
  private readonly locals = new WeakMap<readonly PodInfo[], readonly PodInfo[]>();
  private localOf(pods: readonly PodInfo[], node: string): readonly PodInfo[] {
    let local = this.locals.get(pods);
    if (!local) this.locals.set(pods, (local = pods.filter((p) => p.node === node)));
    return local;
  }

  /**
   * The tiers' chains of a family: per tier and direction a chain with, per policy in check order,
   * a jump for its local subjects and a RETURN once a rule decided; the verdict chains the
   * policies' rules go to; the policies' own chains. Nothing for a tier and direction no policy
   * with local subjects has rules for.
   */
  private tierChains(b: FamilyBuilder, judging: readonly { rcp: ResolvedClusterPolicy; local: readonly PodInfo[] }[], opts: RulesetOptions): { chains: Chain[]; policyChains: Chain[] } {
    const chains: Chain[] = [];
    const policyChains: Chain[] = [];
    // The verdict chains some rule goes to.
    const goesTo = new Set<string>();
    for (const t of ['Admin', 'Baseline'] as const) {
      for (const d of ['egress', 'ingress'] as const) {
        const rules: Rule[] = [];
        for (const { rcp, local } of judging) {
          if (rcp.tier !== t || rcp[d].length === 0) continue;
          const subject = b.subjectSet(rcp.subjectKey, local);
          // No local subject has an address of this family.
          if (subject.spec.entries.length === 0) continue;
          const chain = b.clusterChain(rcp, d);
          policyChains.push(chain);
          for (const r of chain.rules) if (!isDispatch(r) && r.action.kind === 'goto') goesTo.add(r.action.chain);
          const dir = d === 'ingress' ? 'dst' : 'src';
          rules.push({ comment: comment(`${t} ${rcp.key} ${d}`), sets: [{ set: subject.spec.name, dir }], action: { kind: 'jump', chain: chain.name } }, IF_DECIDED_RETURN);
        }
        if (rules.length === 0) continue;
        chains.push(b.fixedChain(tierChain(t, d), rules));
        if (goesTo.has(verdictChain('accept', t, d))) {
          const accept = [markRule(BOTH, BOTH)];
          if (opts.logAccepts) accept.push({ ct: 'new', limit: EVENT_LIMIT, action: eventAction('accept', d, verdictChain('accept', t, d)) });
          chains.push(b.fixedChain(verdictChain('accept', t, d), accept));
        }
        if (goesTo.has(verdictChain('deny', t, d))) {
          const deny: Rule[] = opts.logDrops ? [{ limit: EVENT_LIMIT, action: eventAction('deny', d, verdictChain('deny', t, d)) }] : [];
          // Silently: a Deny of the cluster's admin reads as a timeout to the pod, as the API's
          // conformance suite expects (a NetworkPolicy's denial is refused at once instead).
          chains.push(b.fixedChain(verdictChain('deny', t, d), [...deny, DROP]));
        }
      }
    }
    if (goesTo.has(PASS_CHAIN)) chains.push(PASS_SPEC);
    return { chains, policyChains };
  }

  /**
   * INPUT's egress chain: local pods to their own node. Admin first; a pod NetworkPolicy isolates
   * for egress may reach its own node (v1's rule), which ends it there (a set of those pods, so a
   * pod coming or going changes set entries, not this chain); then Baseline.
   */
  private egressLocal(b: FamilyBuilder, isolated: readonly { pod: PodInfo }[], admin: boolean, baseline: boolean): Rule[] {
    const out = [CLEAR_BOTH];
    if (admin) out.push(jumpTo(tierChain('Admin', 'egress')), IF_ALLOWED_RETURN);
    if (baseline) {
      const pods = isolated.map((e) => e.pod);
      const kept = sameItems(this.isolatedEgress, pods) ? this.isolatedEgress : (this.isolatedEgress = pods);
      const set = b.podSet('NetworkPolicy egress-isolated on this node', kept);
      if (set) out.push({ comment: comment('NetworkPolicy decides: a pod reaches its own node'), sets: [{ set: set.spec.name, dir: 'src' }], action: RETURN });
      out.push(...(admin ? [CLEAR_DECIDED] : []), jumpTo(tierChain('Baseline', 'egress')));
    }
    return out;
  }

  /** Last pass's egress-isolated local pods (the same list object while they are the same pods). */
  private isolatedEgress: readonly PodInfo[] = [];

}

/** One build with nothing remembered (tests). */
export function buildRuleset(resolved: readonly ResolvedPolicy[], opts: RulesetOptions): Ruleset {
  return new RulesetBuilder().build(resolved, opts);
}
