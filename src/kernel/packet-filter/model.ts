// The packet filter as data, the same for every dataplane: what gingham wants of the kernel's
// firewall (rules, address sets, per-address dispatch, the hooks that run its chains), said once
// by the pure layers (masquerade, service guard, the bridge plugin's chains, the policy ruleset)
// and rendered by one backend chosen in one place: iptables (+ ipset) or nftables. Nothing here
// knows either syntax; each backend's renderer is the one module that turns these values into its
// text, and refuses what it cannot say safely.
//
// Values are immutable: builders hand out the same Rule, Chain and AddrSet objects while their
// inputs are the same, so appliers can tell unchanged parts by identity.

export type Family = 4 | 6;

/** A literal address or CIDR, canonical text from a parsed value (never a name to resolve). */
export interface AddrMatch {
  readonly cidr: string;
  readonly not?: boolean;
}

/** Membership of the packet's source or destination address in one of the ruleset's AddrSets. */
export interface SetMatch {
  readonly set: string;
  readonly dir: 'src' | 'dst';
}

export interface IfaceMatch {
  readonly name: string;
  readonly not?: boolean;
}

/** Destination ports, from..to inclusive (from === to: one port). */
export interface PortRange {
  readonly from: number;
  readonly to: number;
}

/** (packet mark & mask) === value. */
export interface MarkBits {
  readonly value: number;
  readonly mask: number;
}

export type Action =
  | { readonly kind: 'accept' | 'drop' | 'return' | 'masquerade' }
  /** port-unreachable: ICMP or ICMPv6 by the rule's family. */
  | { readonly kind: 'reject'; readonly with: 'tcp-reset' | 'port-unreachable' }
  /** jump returns to the next rule; goto does not. */
  | { readonly kind: 'jump' | 'goto'; readonly chain: string }
  /** mark = (mark & ~mask) ^ value (iptables' --set-xmark; value within mask: set or clear bits). */
  | { readonly kind: 'mark'; readonly value: number; readonly mask: number }
  /** A copy of the packet's first `snaplen` bytes to netlink log group `group` (NFLOG, nft log group). */
  | { readonly kind: 'log'; readonly prefix: string; readonly group: number; readonly snaplen: number };

/**
 * One rule: every match given must hold. Renderers print matches in one fixed order (the order of
 * these fields) so that what they write is what the kernel prints back.
 */
export interface Rule {
  readonly src?: AddrMatch;
  readonly dst?: AddrMatch;
  readonly iif?: IfaceMatch;
  readonly oif?: IfaceMatch;
  readonly proto?: 'tcp' | 'udp' | 'sctp' | 'icmpv6';
  /** Free text saying what the rule is for (already cut to COMMENT_MAX by whoever wrote it). */
  readonly comment?: string;
  readonly sets?: readonly SetMatch[];
  /** Needs proto tcp, udp or sctp. */
  readonly dport?: PortRange;
  /** Needs proto icmpv6 (neighbour discovery). */
  readonly icmpv6Type?: number;
  readonly ct?: 'new' | 'established-related';
  readonly mark?: MarkBits;
  /** A token bucket: at most perSecond on average, bursts of `burst`. */
  readonly limit?: { readonly perSecond: number; readonly burst: number };
  readonly action: Action;
}

/** One address of the dispatch: packets from (or to) it jump to its chain. */
export interface DispatchEntry {
  /** A host address, canonical text. */
  readonly addr: string;
  readonly chain: string;
  readonly comment?: string;
}

/**
 * Per-address dispatch in a chain: iptables renders one `-s/-d ADDR -j CHAIN` rule per entry (a
 * linear walk), nftables one verdict-map lookup (`map` names the map).
 */
export interface Dispatch {
  readonly dispatch: {
    readonly by: 'src' | 'dst';
    readonly map: string;
    readonly entries: readonly DispatchEntry[];
  };
}

export type Step = Rule | Dispatch;
export const isDispatch = (s: Step): s is Dispatch => 'dispatch' in s;

export interface Chain {
  readonly name: string;
  readonly rules: readonly Step[];
}

/**
 * A named set of addresses of one family. 'addrs': host addresses; 'nets': CIDRs, minus the
 * CIDRs in `except` (an ipBlock's excepts; each inside some entry). Entries sorted and unique.
 */
export interface AddrSet {
  readonly name: string;
  readonly family: Family;
  readonly kind: 'addrs' | 'nets';
  readonly entries: readonly string[];
  readonly except?: readonly string[];
}

/**
 * Where the kernel runs one of our chains. iptables: a jump from the built-in chain (filter table
 * FORWARD, INPUT, OUTPUT inserted first; nat POSTROUTING appended, after kube-proxy's); nftables:
 * a base chain of ours at that hook (filter - 10, srcnat + 10) that jumps to it.
 */
export interface Hook {
  readonly at: 'forward' | 'input' | 'output' | 'postrouting';
  readonly chain: string;
  /** Only packets from this CIDR (canonical text) take the jump. */
  readonly source?: string;
  /** A word the jump is found by (iptables); nft base chains are found by name. */
  readonly comment?: string;
}

/** One family's part of a ruleset: sets before the chains that use them; hooks last. */
export interface FamilyRules {
  readonly sets: readonly AddrSet[];
  readonly chains: readonly Chain[];
  readonly hooks: readonly Hook[];
}

/** The longest comment both backends keep (nft: 128 bytes; iptables: 256). */
export const COMMENT_MAX = 128;
