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
//   set changing kind) takes the first way instead: a read and a whole-table replace.
import { isDeepStrictEqual } from 'node:util';
import type { AddrSet, Chain, Dispatch, DispatchEntry, Family, FamilyRules } from '../../kernel/packet-filter/model.js';
import { isDispatch } from '../../kernel/packet-filter/model.js';
import {
  addChainLines,
  addMapLines,
  addSetLines,
  deleteChainLines,
  deleteMapLines,
  deleteSetLines,
  dispatchElementLines,
  joinNft,
  nftChainName,
  printedTable,
  refillChainLines,
  replaceTableText,
  deleteTableText,
  setElements as printedElements,
  setElementLines,
} from '../../kernel/packet-filter/nft-render.js';
import { NftReadError, type ParsedChain, type ParsedSet, type ParsedTable, applyNft, listTable } from '../../kernel/nft.js';
import { type NftLine, RefusedNftText, nftCommand } from '../../kernel/nft-text.js';
import { type PolicySyncResult, emptyResult } from './apply.js';
import type { PolicyDataplane } from './dataplane.js';

/** The policy's table (family inet: both address families, names suffixed -4/-6 by the renderer). */
export const POLICY_TABLE = 'gingham-policy';

export type Wanted = Readonly<Record<Family, FamilyRules>>;

/** A dispatch map as the chains' Dispatch steps declare it. */
export type DispatchMap = Dispatch['dispatch'];

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
 * what nothing refers to any more: gone chains flushed, then gone maps, chains and sets deleted.
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

/** The dispatch maps a family's chains use, by name. */
export function dispatchMaps(chains: readonly Chain[]): Map<string, DispatchMap> {
  const maps = new Map<string, DispatchMap>();
  for (const c of chains) for (const s of c.rules) if (isDispatch(s)) maps.set(s.dispatch.map, s.dispatch);
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
 * delta (a set changing family or kind). Set members are compared as the renderer writes them
 * (nets minus excepts, as CIDRs), so additions and deletions name what the kernel holds.
 */
export function familyDelta(have: FamilyRules, want: FamilyRules): FamilyDelta | undefined {
  const hadSets = new Map(have.sets.map((s) => [s.name, s]));
  const newSets: AddrSet[] = [];
  const setElements: Elements<string>[] = [];
  for (const s of want.sets) {
    const old = hadSets.get(s.name);
    if (!old) newSets.push(s);
    else if (old !== s) {
      if (old.family !== s.family || old.kind !== s.kind) return undefined;
      const d = diff(printedElements(old), printedElements(s), String);
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
    const old = hadMaps.get(m.map);
    if (!old || old.by !== m.by) {
      // A map that changes direction is a new map: its rule is rewritten with its chain.
      if (old) return undefined;
      newMaps.push(m);
    } else if (old.entries !== m.entries) {
      const d = diff(old.entries, m.entries, entryKey);
      if (d.add.length + d.remove.length > 0) mapElements.push({ name: m.map, ...d });
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
export function planSync(have: Wanted, want: Wanted): Plan {
  const families = {} as Record<Family, FamilyDelta>;
  for (const f of [4, 6] as const) {
    if (isEmptyFamily(have[f]) !== isEmptyFamily(want[f])) return { kind: 'replace', why: `IPv${f} ${isEmptyFamily(want[f]) ? 'goes' : 'appears'}` };
    if (have[f].hooks !== want[f].hooks && !isDeepStrictEqual(have[f].hooks, want[f].hooks)) return { kind: 'replace', why: `IPv${f} hooks changed` };
    const d = familyDelta(have[f], want[f]);
    if (!d) return { kind: 'replace', why: `IPv${f} set changed kind` };
    families[f] = d;
  }
  return { kind: 'delta', families };
}

/** Whether the ruleset wants nothing in either family (then the table goes). */
const wantsNothing = (want: Wanted): boolean => isEmptyFamily(want[4]) && isEmptyFamily(want[6]);

/**
 * The transaction of a delta plan (see FamilyDelta for the order); '' when it changes nothing. A
 * set, chain or map is named by its model name, the renderer adds the family.
 */
export function deltaText(families: Readonly<Record<Family, FamilyDelta>>, want: Wanted): string {
  const T = POLICY_TABLE;
  const fs = [4, 6] as const;
  const sets = (f: Family): Map<string, AddrSet> => new Map(want[f].sets.map((s) => [s.name, s]));
  const pieces: NftLine[][] = [];
  for (const f of fs) {
    const d = families[f];
    const byName = sets(f);
    pieces.push(...d.newSets.map((s) => addSetLines(T, s)));
    pieces.push(...d.setElements.map((e) => setElementLines(T, 'add', byName.get(e.name)!, e.add)));
  }
  // Chains before the map elements that jump to them, maps before the rules that look them up.
  for (const f of fs) pieces.push(...families[f].newChains.map((c) => addChainLines(T, { name: c.name, rules: [] }, f)));
  for (const f of fs) pieces.push(...families[f].newMaps.map((m) => addMapLines(T, m, f)));
  for (const f of fs) {
    const d = families[f];
    pieces.push(...d.newChains.map((c) => addChainLines(T, c, f)));
    pieces.push(...d.refilled.map((c) => refillChainLines(T, c, f)));
    for (const m of d.mapElements) pieces.push(dispatchElementLines(T, 'delete', m.name, f, m.remove), dispatchElementLines(T, 'add', m.name, f, m.add));
  }
  for (const f of fs) {
    const d = families[f];
    const byName = sets(f);
    pieces.push(...d.setElements.map((e) => setElementLines(T, 'delete', byName.get(e.name)!, e.remove)));
    // A gone chain may still jump to another gone chain: all are emptied before any is deleted.
    pieces.push(...d.goneChains.map((c) => refillChainLines(T, { name: c, rules: [] }, f)));
  }
  for (const f of fs) {
    const d = families[f];
    // A gone map's elements still jump to chains: the map goes before them.
    pieces.push(...d.goneMaps.map((m) => deleteMapLines(T, m, f)), ...d.goneChains.map((c) => deleteChainLines(T, c, f)), ...d.goneSets.map((s) => deleteSetLines(T, s)));
  }
  return pieces.some((p) => p.length > 0) ? joinNft(...pieces) : '';
}

type SyncChanges = Pick<PolicySyncResult, 'chains' | 'sets'>;

const noChanges = (): SyncChanges => ({
  chains: { 4: { created: [], rewritten: [], removed: [], hooked: [], unhooked: [] }, 6: { created: [], rewritten: [], removed: [], hooked: [], unhooked: [] } },
  sets: { created: [], rebuilt: [], retyped: [], updated: [], destroyed: [], added: 0, removed: 0 },
});

/**
 * What a delta changes, in the result's terms: chains by model name per family; sets and dispatch
 * maps (by their nft names) under `sets`, their elements counted in added and removed.
 */
export function deltaChanges(families: Readonly<Record<Family, FamilyDelta>>): SyncChanges {
  const out = noChanges();
  for (const f of [4, 6] as const) {
    const d = families[f];
    out.chains[f].created.push(...d.newChains.map((c) => c.name));
    out.chains[f].rewritten.push(...d.refilled.map((c) => c.name));
    out.chains[f].removed.push(...d.goneChains);
    out.sets.created.push(...d.newSets.map((s) => s.name), ...d.newMaps.map((m) => nftChainName(m.map, f)));
    out.sets.updated.push(...d.setElements.map((e) => e.name), ...d.mapElements.map((m) => nftChainName(m.name, f)));
    out.sets.destroyed.push(...d.goneSets, ...d.goneMaps.map((m) => nftChainName(m, f)));
    for (const e of [...d.setElements, ...d.mapElements]) {
      out.sets.added += e.add.length;
      out.sets.removed += e.remove.length;
    }
  }
  return out;
}

const sorted = (xs: readonly string[]): string[] => [...xs].sort();

/** The family and model name of one of our nft chain names (`NAME-4`); undefined for a base chain or a stranger. */
function modelName(nftName: string): { family: Family; name: string } | undefined {
  const m = /^(.+)-([46])$/.exec(nftName);
  return m ? { family: Number(m[2]) as Family, name: m[1]! } : undefined;
}

/**
 * How the table as read differs from `want` (undefined: no table). `same`: nothing to do, not even
 * removing an empty table. The changes say what a whole-table replace then changes, for the log.
 */
export function compareTable(listed: ParsedTable | undefined, want: Wanted): SyncChanges & { same: boolean } {
  const out = noChanges();
  const wanted = printedTable(want);
  const have = listed ?? { chains: new Map<string, ParsedChain>(), sets: new Map<string, ParsedSet>() };
  let same = listed === undefined ? wantsNothing(want) : !wantsNothing(want);
  const differ = (): void => {
    same = false;
  };
  const base = (name: string): string | undefined => (name.startsWith('hook-') ? name.slice(5) : undefined);
  for (const [name, c] of wanted.chains) {
    const got = have.chains.get(name);
    if (got && got.base === c.base && isDeepStrictEqual(got.rules, c.rules)) continue;
    differ();
    const at = base(name);
    if (at !== undefined) {
      for (const f of [4, 6] as const) {
        const mine = (r: string): boolean => r.endsWith(`-${f}`);
        const rules = got?.base === c.base ? (got?.rules ?? []) : [];
        if (c.rules.filter(mine).some((r) => !rules.includes(r))) out.chains[f].hooked.push(at);
        if (rules.filter(mine).some((r) => !c.rules.includes(r))) out.chains[f].unhooked.push(at);
      }
      continue;
    }
    const m = modelName(name)!;
    out.chains[m.family][got ? 'rewritten' : 'created'].push(m.name);
  }
  for (const [name, got] of have.chains) {
    if (wanted.chains.has(name)) continue;
    differ();
    const at = base(name);
    const m = modelName(name);
    if (at !== undefined) for (const f of [4, 6] as const) if (got.rules.some((r) => r.endsWith(`-${f}`))) out.chains[f].unhooked.push(at);
    if (at === undefined) out.chains[m?.family ?? 4].removed.push(m?.name ?? name);
  }
  for (const [name, s] of wanted.sets) {
    const got = have.sets.get(name);
    if (!got) {
      differ();
      out.sets.created.push(name);
      out.sets.added += s.elements.length;
      continue;
    }
    if (got.kind !== s.kind || got.typeof || got.type !== s.type || !isDeepStrictEqual(sorted(got.flags), sorted(s.flags))) {
      differ();
      out.sets.retyped.push(name);
      continue;
    }
    const d = diff(got.elements, s.elements, String);
    if (d.add.length + d.remove.length === 0) continue;
    differ();
    out.sets.updated.push(name);
    out.sets.added += d.add.length;
    out.sets.removed += d.remove.length;
  }
  for (const name of have.sets.keys()) {
    if (wanted.sets.has(name)) continue;
    differ();
    out.sets.destroyed.push(name);
  }
  return { ...out, same };
}

const EMPTY: Wanted = { 4: { sets: [], chains: [], hooks: [] }, 6: { sets: [], chains: [], hooks: [] } };

export class NftPolicyApplier implements PolicyDataplane {
  readonly name = 'nftables' as const;
  private readonly wrap: readonly string[];
  /** The sync in progress: the next one starts after it (syncNow never rejects). */
  private last: Promise<unknown> = Promise.resolve();
  /** The ruleset the last fully successful sync left in force; undefined after a failure (the next sync reads). */
  private known: Wanted | undefined;

  /** netns: a named network namespace (tests); the agent works in its own. */
  constructor(netns?: string) {
    this.wrap = netns ? ['ip', 'netns', 'exec', netns] : [];
  }

  /**
   * Make the table match `want` in at most one transaction. `read: false` trusts the ruleset the
   * last successful sync applied and runs only the delta (what others changed meanwhile waits for
   * the next sync that reads); with nothing known yet, it reads.
   */
  sync(want: Wanted, opts: { read?: boolean } = {}): Promise<PolicySyncResult> {
    const next = this.last.then(() => this.syncNow(want, opts.read ?? true));
    this.last = next;
    return next;
  }

  /** Remove the table (`gingham agent --cleanup`, networkPolicy off, a switch to iptables). */
  cleanup(): Promise<PolicySyncResult> {
    return this.sync(EMPTY);
  }

  private async syncNow(want: Wanted, read: boolean): Promise<PolicySyncResult> {
    const start = performance.now();
    const result = emptyResult();
    const t = result.timings;
    let mark = start;
    const lap = (): number => {
      const now = performance.now();
      const ms = now - mark;
      mark = now;
      return ms;
    };
    const have = read ? undefined : this.known;
    this.known = undefined;
    try {
      let text: string;
      let changes: SyncChanges;
      const plan = have ? planSync(have, want) : undefined;
      if (plan?.kind === 'delta') {
        text = deltaText(plan.families, want);
        changes = deltaChanges(plan.families);
        t.renderMs += lap();
      } else {
        let listed: ParsedTable | undefined;
        result.reads++;
        try {
          listed = await listTable(POLICY_TABLE, this.wrap);
        } catch (e) {
          result.failures.push({ step: e instanceof NftReadError ? 'read' : 'exec', error: (e as Error).message });
          return result;
        } finally {
          t.readMs += lap();
        }
        const found = compareTable(listed, want);
        changes = found;
        text = found.same ? '' : wantsNothing(want) ? deleteTableText(POLICY_TABLE) : replaceTableText(POLICY_TABLE, want);
        t.renderMs += lap();
      }
      if (text !== '') {
        result.restores++;
        const error = await applyNft(text, this.wrap);
        t.rulesMs += lap();
        if (error !== undefined) {
          result.failures.push({ step: 'nft', error });
          return result;
        }
        Object.assign(result, changes);
      }
      this.known = want;
    } catch (e) {
      // The ruleset cannot be said safely (RefusedNftText), or nft cannot be started.
      result.failures.push({ step: e instanceof RefusedNftText ? 'render' : 'exec', error: (e as Error).message });
    } finally {
      t.totalMs = performance.now() - start;
    }
    return result;
  }
}

/**
 * Whether nft takes an SCTP port match (`sctp dport`) here, the meaning sctpPortsSupported has
 * for iptables: a real transaction that builds the rule in a scratch table and deletes the table
 * again, so the kernel checks the expressions. The compiler leaves SCTP port rules out when this
 * is false, so they can never fail a TCP/UDP ruleset.
 */
export async function nftSctpPortsSupported(netns?: string): Promise<boolean> {
  const wrap = netns ? ['ip', 'netns', 'exec', netns] : [];
  const table = 'gingham-sctp-probe';
  const chain: Chain = { name: 'probe', rules: [{ proto: 'sctp', dport: { from: 9, to: 9 }, action: { kind: 'return' } }] };
  const text = joinNft([nftCommand('add', 'table', table)], addChainLines(table, chain, 4), [nftCommand('delete', 'table', table)]);
  return (await applyNft(text, wrap)) === undefined;
}
