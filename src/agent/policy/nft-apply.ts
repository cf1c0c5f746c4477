// The nftables kernel layer of NetworkPolicy: make table `inet gingham-policy` match a Ruleset.
// The table is ours alone, so every change is one `nft -f -` transaction, which the kernel applies
// whole or not at all: a failure changes nothing (the previous rules stay in force), is reported,
// never thrown, and makes the next sync read. Two ways to a wanted ruleset:
// * read (agent start, every resync, after a failure): list the table, compare it with the wanted
//   ruleset in nft's printed form, and on any difference replace the whole table in one
//   transaction (the replace costs about what the read does; no per-chain healing is needed);
// * trust (events, `read: false`): the delta against the ruleset the last sync applied, found by
//   object identity (the compiler hands out the same objects for what did not change): set and
//   dispatch-map elements added and deleted, chains added, refilled or deleted, all in one
//   transaction. What cannot be said as a delta (hooks changed, a family appearing or leaving, a
//   set changing kind) is a whole-table replace instead.
import { isDeepStrictEqual } from 'node:util';
import type { AddrSet, Chain, DispatchEntry, Family, FamilyRules } from '../../kernel/packet-filter/model.js';
import { isDispatch } from '../../kernel/packet-filter/model.js';

/** The policy's table (family inet: both address families, names suffixed -4/-6 by the renderer). */
export const POLICY_TABLE = 'gingham-policy';

export type Wanted = Readonly<Record<Family, FamilyRules>>;

/** A dispatch map as the chains' Dispatch steps declare it. */
export interface DispatchMap {
  readonly name: string;
  readonly by: 'src' | 'dst';
  readonly entries: readonly DispatchEntry[];
}

/** Elements of an existing set or map that change (deletes run before adds: a key may move). */
export interface Elements<T> {
  readonly name: string;
  readonly add: readonly T[];
  readonly remove: readonly T[];
}

/**
 * One family's part of a delta. The transaction runs it in this order: new sets and set elements
 * added; new chains declared, then new maps with their elements (they jump to chains), then the new
 * chains' rules and the refilled chains (flush and refill; they may use the new sets and maps);
 * map elements deleted then added (a key may move to another chain); set elements deleted; last
 * what nothing refers to any more: gone chains (flushed, then deleted), maps and sets.
 */
export interface FamilyDelta {
  readonly newSets: readonly AddrSet[];
  readonly setElements: readonly Elements<string>[];
  readonly newChains: readonly Chain[];
  readonly refilled: readonly Chain[];
  readonly newMaps: readonly DispatchMap[];
  readonly mapElements: readonly Elements<DispatchEntry>[];
  readonly goneChains: readonly string[];
  readonly goneMaps: readonly string[];
  readonly goneSets: readonly string[];
}

export type Plan = { readonly kind: 'replace'; readonly why: string } | { readonly kind: 'delta'; readonly families: Readonly<Record<Family, FamilyDelta>> };

const isEmptyFamily = (r: FamilyRules): boolean => r.sets.length === 0 && r.chains.length === 0 && r.hooks.length === 0;

export const isEmptyDelta = (d: FamilyDelta): boolean => Object.values(d).every((v: readonly unknown[]) => v.length === 0);

/** The dispatch maps a family's chains use, by name. */
export function dispatchMaps(chains: readonly Chain[]): Map<string, DispatchMap> {
  const maps = new Map<string, DispatchMap>();
  for (const c of chains) for (const s of c.rules) if (isDispatch(s)) maps.set(s.dispatch.map, { name: s.dispatch.map, by: s.dispatch.by, entries: s.dispatch.entries });
  return maps;
}

/**
 * Whether a chain's rules are the same apart from its dispatch entries (those change as map
 * elements): the same objects, or equal ones, step by step.
 */
function sameRules(a: Chain, b: Chain): boolean {
  if (a.rules.length !== b.rules.length) return false;
  return a.rules.every((s, i) => {
    const t = b.rules[i]!;
    if (s === t) return true;
    if (isDispatch(s) || isDispatch(t)) return isDispatch(s) && isDispatch(t) && s.dispatch.by === t.dispatch.by && s.dispatch.map === t.dispatch.map;
    return isDeepStrictEqual(s, t);
  });
}

/** Added and removed members, between two lists (unique values). */
function diff<T>(have: readonly T[], want: readonly T[], key: (v: T) => string): { add: T[]; remove: T[] } {
  const had = new Map(have.map((v) => [key(v), v]));
  const wanted = new Map(want.map((v) => [key(v), v]));
  return { add: want.filter((v) => !had.has(key(v))), remove: have.filter((v) => !wanted.has(key(v))) };
}

const entryKey = (e: DispatchEntry): string => `${e.addr} ${e.chain} ${e.comment ?? ''}`;

/**
 * One family's delta from `have` (applied by the last sync) to `want`; undefined when it is not a
 * delta (a set changing family or kind). `elements` gives a set's members as the renderer writes
 * them (nets minus excepts), so that additions and deletions name what the kernel holds.
 */
export function familyDelta(have: FamilyRules, want: FamilyRules, elements: (s: AddrSet) => readonly string[]): FamilyDelta | undefined {
  const hadSets = new Map(have.sets.map((s) => [s.name, s]));
  const newSets: AddrSet[] = [];
  const setElements: Elements<string>[] = [];
  for (const s of want.sets) {
    const old = hadSets.get(s.name);
    if (!old) newSets.push(s);
    else if (old !== s) {
      if (old.family !== s.family || old.kind !== s.kind) return undefined;
      const d = diff(elements(old), elements(s), String);
      if (d.add.length + d.remove.length > 0) setElements.push({ name: s.name, ...d });
    }
  }
  const wantedSets = new Set(want.sets.map((s) => s.name));

  const hadChains = new Map(have.chains.map((c) => [c.name, c]));
  const newChains: Chain[] = [];
  const refilled: Chain[] = [];
  for (const c of want.chains) {
    const old = hadChains.get(c.name);
    if (!old) newChains.push(c);
    else if (old !== c && !sameRules(old, c)) refilled.push(c);
  }
  const wantedChains = new Set(want.chains.map((c) => c.name));

  const hadMaps = dispatchMaps(have.chains);
  const wantMaps = dispatchMaps(want.chains);
  const newMaps: DispatchMap[] = [];
  const mapElements: Elements<DispatchEntry>[] = [];
  for (const m of wantMaps.values()) {
    const old = hadMaps.get(m.name);
    if (!old || old.by !== m.by) {
      // A map that changes direction is a new map: its rule is rewritten with its chain.
      if (old) return undefined;
      newMaps.push(m);
    } else if (old.entries !== m.entries) {
      const d = diff(old.entries, m.entries, entryKey);
      if (d.add.length + d.remove.length > 0) mapElements.push({ name: m.name, ...d });
    }
  }
  return {
    newSets,
    setElements,
    newChains,
    refilled,
    newMaps,
    mapElements,
    goneChains: have.chains.filter((c) => !wantedChains.has(c.name)).map((c) => c.name),
    goneMaps: [...hadMaps.keys()].filter((m) => !wantMaps.has(m)),
    goneSets: have.sets.filter((s) => !wantedSets.has(s.name)).map((s) => s.name),
  };
}

/**
 * What a sync that trusts the last applied ruleset runs: a delta per family, or a whole-table
 * replace where a delta would be awkward (hooks changed, a family appears or goes, a set changes
 * kind).
 */
export function planSync(have: Wanted, want: Wanted, elements: (s: AddrSet) => readonly string[]): Plan {
  const families = {} as Record<Family, FamilyDelta>;
  for (const f of [4, 6] as const) {
    if (isEmptyFamily(have[f]) !== isEmptyFamily(want[f])) return { kind: 'replace', why: `IPv${f} ${isEmptyFamily(want[f]) ? 'goes' : 'appears'}` };
    if (have[f].hooks !== want[f].hooks && !isDeepStrictEqual(have[f].hooks, want[f].hooks)) return { kind: 'replace', why: `IPv${f} hooks changed` };
    const d = familyDelta(have[f], want[f], elements);
    if (!d) return { kind: 'replace', why: `IPv${f} set changed kind` };
    families[f] = d;
  }
  return { kind: 'delta', families };
}
