// The one place that maps a `dataplane` name to the backend that writes the single-owner chains:
// the agent's masquerade and service guard, and each bridge network's masquerade and internal
// chains. Callers hand over seam-model data (model.ts) and get back opaque state and changes; only
// the backends behind this module know iptables from nftables.
import type { Family, FamilyRules, Rule } from './model.js';
import { IPTABLES_CHAINS } from './iptables-chains.js';
import { NFT_CHAINS } from './nft-chains.js';

export type Dataplane = 'iptables' | 'nftables';
export const DATAPLANES: readonly Dataplane[] = ['iptables', 'nftables'];
export type Wrap = readonly string[];

/**
 * Whoever owns a group of chains: the agent's network reconcile, or one bridge network. Every
 * chain it may ever have is named (with its kind: nat chains run at postrouting, filter chains at
 * the filter hooks), so a backend can remove all of them without knowing what was wanted before.
 */
export interface Owner {
  /** nftables: the owner's table, `inet <table>`; nothing else is ever written there. */
  readonly table: string;
  readonly chains: readonly { readonly name: string; readonly kind: 'nat' | 'filter' }[];
}

/** Everything an owner wants, per family; a family without chains or hooks wants nothing. */
export type OwnerRules = Readonly<Record<Family, FamilyRules>>;

const NONE: FamilyRules = { sets: [], chains: [], hooks: [] };
/** What an owner being removed wants. */
export const NO_RULES: OwnerRules = { 4: NONE, 6: NONE };

/** What the kernel holds of an owner, as one backend read it; only that backend looks inside. */
export interface Held {
  readonly dataplane: Dataplane;
  /** Something of the owner is there. */
  readonly present: boolean;
}

/** One exec's worth of change: for the applier, and for people (`what`, `text`). */
export interface FilterChange {
  readonly dataplane: Dataplane;
  /** What it rewrites, e.g. "GINGHAM-MASQ/4" or "inet gingham". */
  readonly what: string;
  /** The command that takes `text` on stdin, for people. */
  readonly command: string;
  readonly text: string;
  /** Set when the change is for one family's tool (iptables: iptables or ip6tables). */
  readonly family?: Family;
}

export interface ChainsBackend {
  readonly dataplane: Dataplane;
  /** What the kernel holds of the owner; a tool that is not installed holds nothing. */
  read(owner: Owner, wrap?: Wrap): Promise<Held>;
  /** The changes that make the kernel hold exactly `want` of the owner; [] when it already does. */
  changes(owner: Owner, want: OwnerRules, held: Held): FilterChange[];
  /** One change; its error text (nothing was applied), or undefined. */
  apply(change: FilterChange, wrap?: Wrap): Promise<string | undefined>;
  /** The bridge plugin's first ADD: the owner's chains as wanted, in the fewest execs (throws a CniError). */
  ensure(owner: Owner, want: OwnerRules, wrap?: Wrap): Promise<void>;
  /** The bridge plugin's release and GC: nothing of the owner left (throws a CniError). */
  remove(owner: Owner, wrap?: Wrap): Promise<void>;
  /** One rule of a chain as the kernel prints it back, for people. */
  printed(chain: string, rule: Rule, family: Family): string;
}

const BACKENDS: Readonly<Record<Dataplane, ChainsBackend>> = { iptables: IPTABLES_CHAINS, nftables: NFT_CHAINS };

/** The backend of a dataplane. */
export const chainsBackend = (d: Dataplane): ChainsBackend => BACKENDS[d];

/** The backends not chosen: what a live switch cleans up after the chosen one has applied. */
export const otherBackends = (d: Dataplane): ChainsBackend[] => DATAPLANES.filter((o) => o !== d).map((o) => BACKENDS[o]);
