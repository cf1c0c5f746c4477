// The policy ruleset as iptables and ipset input, pure: what `ipset save` and `iptables-save -t
// filter` print is parsed into the state we own, the wanted Ruleset (the packet-filter model) is
// rendered into the iptables backend's form (normalizeRuleset: rules as iptables prints them, sets
// as ipset prints them, the hooks as jumps) and turned into the `ipset restore` and
// `iptables-restore --noflush` texts that change only what differs. apply.ts runs them in order.
//
// Canonical rule text. Chains are compared rule by rule with what `iptables-save` prints back, so
// the renderer (kernel/packet-filter/iptables-render.ts) writes each rule exactly as iptables 1.8.9
// (nf_tables, the same for ip6tables) prints it; otherwise the chain would be rewritten on every
// sync. In short:
//
//   [-s ADDR/LEN] [-d ADDR/LEN] [-p PROTO] [-m MATCH OPTIONS]... -j TARGET [TARGET OPTIONS]
//
// Read back on this machine (Debian bookworm's iptables, as on the kind nodes):
//
//   written                                        printed by iptables-save / iptables -S
//   -s 198.18.0.1 | -d fd42:18::1                  -s 198.18.0.1/32 | -d fd42:18::1/128
//   -d 198.18.0.0/24 | -s fd42:18::/64             unchanged (the prefix is always printed)
//   -p 6                                           -p tcp (also udp, sctp: names, lower case)
//   -m set ... -d X -p tcp -s Y ...                -s Y -d X -p tcp -m set ...: -s, -d, -p come
//                                                  first, then every -m in the order written
//   -m set --match-set A src -m set --match-set B dst    unchanged, in the order written
//   -p tcp --dport 80                              -p tcp -m tcp --dport 80 (the implicit -m tcp
//                                                  stands where --dport was written)
//   -p udp -m udp --dport 80:90                    unchanged; --dport 80:80 prints as --dport 80
//   -p sctp -m sctp --dport 80                     unchanged (when the kernel accepts it at all)
//   -m conntrack --ctstate ESTABLISHED,RELATED     -m conntrack --ctstate RELATED,ESTABLISHED
//   -m mark --mark 0x20000/0x20000                 unchanged
//   -m comment --comment "x/y ingress"             unchanged: quoted when it holds a space, a
//                                                  one-word comment unquoted (--comment one);
//                                                  a '"' inside prints as \"
//   -j MARK --set-mark 0x20000/0x20000             -j MARK --set-xmark 0x20000/0x20000
//   -j MARK --set-xmark 0x0/0x20000                unchanged
//   -j RETURN | ACCEPT | DROP | GINGHAM-NP-X       unchanged (also -g GINGHAM-NP-X)
//   -j REJECT                                      -j REJECT --reject-with icmp-port-unreachable
//                                                  (ip6tables: icmp6-port-unreachable)
//   -p tcp -j REJECT --reject-with tcp-reset       unchanged (both families)
//   -m limit --limit 10/second --limit-burst 5     -m limit --limit 10/sec (5 is the default burst
//                                                  and is not printed; another burst is: --limit-burst 20)
//   -j NFLOG --nflog-group 9917 --nflog-prefix P --nflog-size 128
//                                                  -j NFLOG --nflog-prefix P --nflog-group 9917 --nflog-size 128
//                                                  (group 0 is the default and not printed;
//                                                  --nflog-range is dropped)
//
// Quoting is the one difference the comparison forgives (some iptables versions quote every
// comment, some none): both sides are re-quoted the same way before comparing.
//
// Sets: a model set of addresses is a hash:ip set, one of networks a hash:net set whose excepts
// are entries flagged nomatch (the set matches the most specific entry first). `ipset save` prints
// a hash:ip entry as the bare address, a hash:net entry as network/len with host bits cleared, a
// host network (/32, /128) as the bare address, IPv6 compressed (RFC 5952), and the flag as
// " nomatch"; wanted entries are brought into that form here.
import { appendLines, canonicalRule, chainName, command, declareChain, restoreText as iptablesRestoreText } from '../../kernel/iptables-text.js';
import { ipsetLine, ipsetRestoreText, setName } from '../../kernel/ipset-text.js';
import { iptablesRule, iptablesStep } from '../../kernel/packet-filter/iptables-render.js';
import { type DispatchEntry, type Hook, type Step, isDispatch } from '../../kernel/packet-filter/model.js';
import type { Family } from '../../net/ip.js';
import { bits, canonical, formatCidr, formatIp, parseCidr, parseIp } from '../../net/ip.js';
import { type AddrSet, CHAIN_PREFIX, type Chain, HOOK_COMMENT, type Ruleset, SET_PREFIX } from './model.js';

/** An ipset as the iptables backend writes it: entries as `ipset save` prints them, " nomatch" after an except. */
export interface IpSetSpec {
  readonly name: string;
  readonly family: Family;
  readonly type: 'hash:ip' | 'hash:net';
  /** Sorted, unique. */
  readonly entries: readonly string[];
}

/** Where iptables jumps into one of our chains: the built-in chain, and the rule as `iptables -S` prints it. */
export interface HookJump {
  readonly from: 'FORWARD' | 'INPUT' | 'OUTPUT';
  readonly rule: string;
}

/**
 * A chain of ours in the filter table as the iptables backend writes it: each rule is what follows
 * "-A NAME " as `iptables -S` prints it; what it refers to comes from the model (chainRefs).
 */
export interface ChainSpec {
  readonly name: string;
  readonly rules: readonly string[];
  /** Chains it jumps or goes to, each once. */
  readonly jumps: readonly string[];
  /** Sets it matches on, each once. */
  readonly sets: readonly string[];
  /** The built-in chain that jumps to it, when it is a hook chain. */
  readonly hook?: HookJump;
}

export interface FamilyRuleset {
  readonly sets: readonly IpSetSpec[];
  /** The hook chains first, then the others; empty when nothing is wanted in the family. */
  readonly chains: readonly ChainSpec[];
}

/** The ruleset in the iptables backend's form (normalizeRuleset). */
export type IptablesRuleset = Readonly<Record<Family, FamilyRuleset>>;

const BUILT_IN: Record<Hook['at'], HookJump['from'] | undefined> = { forward: 'FORWARD', input: 'INPUT', output: 'OUTPUT', postrouting: undefined };

/** The jump into our hook chain as `iptables-save` prints it, without "-A FROM ". */
export const hookRule = (to: string, family: Family = 4): string => iptablesRule({ comment: HOOK_COMMENT, action: { kind: 'jump', chain: to } }, family);

/** Whether the text modules take a name (they know the kernel's limits: chains 28 bytes, sets 31). */
const takes = (check: (name: string) => string, name: string): boolean => {
  try {
    check(name);
    return true;
  } catch {
    return false;
  }
};
/** Problems listed in a RenderError; a broken generator would otherwise make one per entry. */
const MAX_ERRORS = 10;
/** ipset's default maxelem; a bigger set is created with room to double. */
const DEFAULT_MAXELEM = 65536;

export class RenderError extends Error {
  override name = 'RenderError';
}

// ---- Reading back ----

export interface SetState {
  readonly type: string;
  readonly family: Family;
  readonly maxelem: number;
  /** Entry key (the address or network) -> the entry as printed (with " nomatch" when flagged). */
  readonly entries: ReadonlyMap<string, string>;
  /**
   * The wanted set a fully successful sync made this one hold (setsAfter), so the next sync can
   * tell an unchanged set by identity; undefined when read from the kernel.
   */
  readonly spec?: IpSetSpec;
}

/** Our sets (names starting with SET_PREFIX) from `ipset save`. */
export function parseIpsetSave(text: string): Map<string, SetState> {
  const sets = new Map<string, { type: string; family: Family; maxelem: number; entries: Map<string, string> }>();
  for (const line of text.split('\n')) {
    const [verb, name, ...rest] = line.trim().split(/\s+/);
    if (name === undefined || !name.startsWith(SET_PREFIX)) continue;
    if (verb === 'create') {
      const opt = (key: string): string | undefined => rest[rest.indexOf(key) + 1];
      sets.set(name, {
        type: rest[0] ?? '',
        family: opt('family') === 'inet6' ? 6 : 4,
        maxelem: Number(rest.includes('maxelem') ? opt('maxelem') : DEFAULT_MAXELEM),
        entries: new Map(),
      });
    } else if (verb === 'add' && rest[0] !== undefined) {
      sets.get(name)?.entries.set(rest[0], rest.join(' '));
    }
  }
  return sets;
}

export { canonicalRule };

/** The chain a rule read back jumps or goes to, if any (the last -j: a comment comes before it). */
function target(rule: string): string | undefined {
  // Nearly every rule has one " -j " and no -g: the word after it, without building strings.
  const j = rule.indexOf(' -j ');
  if (j >= 0 && j === rule.lastIndexOf(' -j ') && !rule.startsWith('-j ') && !rule.startsWith('-g ') && !rule.includes(' -g ')) {
    WORD.lastIndex = j + 4;
    return WORD.exec(rule)?.[0];
  }
  return [...` ${rule}`.matchAll(/ -[jg] (\S+)/g)].at(-1)?.[1];
}

/** A word where lastIndex says (sticky). */
const WORD = /\S+/y;

/** The sets a rule read back matches on. */
export function setsOf(rule: string): string[] {
  const at = rule.indexOf('--match-set ');
  if (at < 0) return [];
  // One set (nearly every rule of ours): the word after it, without building strings.
  if (at === rule.lastIndexOf('--match-set ')) {
    WORD.lastIndex = at + 12;
    const m = WORD.exec(rule);
    return m ? [m[0]] : [];
  }
  return [...rule.matchAll(/--match-set (\S+)/g)].map((m) => m[1]!);
}

/** What a chain's rules refer to, each once: chains of ours it jumps to, and sets. */
export interface ChainRefs {
  readonly jumps: readonly string[];
  readonly sets: readonly string[];
}

/** Per chain object: chains are immutable and the compiler hands out the same ones pass after pass. */
const chainRefsMemo = new WeakMap<Chain, ChainRefs>();

/** What a model chain refers to: jump and goto targets, dispatch targets, matched sets. */
export function chainRefs(c: Chain): ChainRefs {
  let refs = chainRefsMemo.get(c);
  if (!refs) {
    const jumps = new Set<string>();
    const sets = new Set<string>();
    for (const step of c.rules) {
      if (isDispatch(step)) for (const e of step.dispatch.entries) jumps.add(e.chain);
      else {
        if (step.action.kind === 'jump' || step.action.kind === 'goto') jumps.add(step.action.chain);
        for (const m of step.sets ?? []) sets.add(m.set);
      }
    }
    chainRefsMemo.set(c, (refs = { jumps: [...jumps], sets: [...sets] }));
  }
  return refs;
}

export interface TableState {
  /** Our chains (CHAIN_PREFIX) -> their rules (what follows "-A NAME "), canonically quoted. */
  readonly chains: ReadonlyMap<string, readonly string[]>;
  /**
   * Our chains -> the wanted chain a fully successful sync filled each with (tableAfter), so the
   * next sync can tell an unchanged chain by identity; undefined when read from the kernel.
   */
  readonly specs?: ReadonlyMap<string, ChainSpec>;
  /** Rules of other chains that jump into ours (the hooks, and whatever else does), as printed. */
  readonly refs: readonly { readonly chain: string; readonly rule: string }[];
}

/** The filter table from `iptables-save -t filter`. */
export function parseIptablesSave(text: string): TableState {
  const chains = new Map<string, string[]>();
  const refs: { chain: string; rule: string }[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith(':')) {
      const name = line.slice(1).split(' ')[0]!;
      if (name.startsWith(CHAIN_PREFIX)) chains.set(name, []);
      continue;
    }
    const m = /^-A (\S+) (.*)$/.exec(line);
    if (!m) continue;
    const [, chain, rule] = m as unknown as [string, string, string];
    if (chain.startsWith(CHAIN_PREFIX)) chains.get(chain)?.push(canonicalRule(rule));
    else if (target(rule)?.startsWith(CHAIN_PREFIX)) refs.push({ chain, rule });
  }
  return { chains, refs };
}

// ---- What is wanted, checked and in the kernel's form ----

/** A dotted quad as formatIp prints it (no leading zeros, each part <= 255). */
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/**
 * Entries already brought into form, by set type, family and text: IPv6 addresses and CIDRs take
 * BigInt parsing, and the same entries come back on every sync. Emptied when it grows too big.
 */
const entryCache = new Map<string, string[] | undefined>();
const ENTRY_CACHE_MAX = 200_000;

/** A set entry as `ipset save` prints it; undefined when it is not one. */
function canonicalEntry(set: IpSetSpec, entry: string): string[] | undefined {
  // Most entries are pod addresses already in this form: no need to parse them.
  if (set.family === 4 && IPV4.test(entry)) return [entry];
  const key = `${set.type} ${set.family} ${entry}`;
  if (entryCache.has(key)) return entryCache.get(key);
  if (entryCache.size >= ENTRY_CACHE_MAX) entryCache.clear();
  const out = parseEntry(set, entry);
  entryCache.set(key, out);
  return out;
}

function parseEntry(set: IpSetSpec, entry: string): string[] | undefined {
  const [addr, flag, ...more] = entry.trim().split(/\s+/);
  if (addr === undefined || more.length > 0 || (flag !== undefined && (flag !== 'nomatch' || set.type !== 'hash:net'))) return undefined;
  const suffix = flag ? ' nomatch' : '';
  if (set.type === 'hash:ip') {
    const ip = parseIp(addr);
    return ip?.family === set.family ? [formatIp(ip)] : undefined;
  }
  const cidr = addr.includes('/') ? parseCidr(addr) : parseIp(addr) && { ip: parseIp(addr)!, prefix: bits(set.family) };
  if (!cidr || cidr.ip.family !== set.family) return undefined;
  const net = canonical(cidr);
  if (net.prefix === bits(set.family)) return [formatIp(net.ip) + suffix];
  // hash:net cannot hold a /0: the same addresses as its two halves.
  if (net.prefix === 0) {
    const half = 1n << BigInt(bits(set.family) - 1);
    return [0n, half].map((value) => `${formatCidr({ ip: { family: set.family, value }, prefix: 1 })}${suffix}`);
  }
  return [formatCidr(net) + suffix];
}

const entryKey = (entry: string): string => entry.split(' ')[0]!;

/** One set checked on its own, and in the kernel's form. */
interface SetCheck {
  readonly nameError?: string;
  /** Entries that are none of the set's type and family. */
  readonly invalid: readonly string[];
  readonly normalized: IpSetSpec;
}

/** Per set object: the compiler hands out the same ones pass after pass. */
const setChecks = new WeakMap<AddrSet, SetCheck>();

function checkSet(s: AddrSet): SetCheck {
  let check = setChecks.get(s);
  if (check) return check;
  const spec: IpSetSpec = { name: s.name, family: s.family, type: s.kind === 'addrs' ? 'hash:ip' : 'hash:net', entries: [] };
  const invalid: string[] = [];
  const byKey = new Map<string, string>();
  const add = (e: string, text: string): void => {
    const c = canonicalEntry(spec, text);
    if (!c) invalid.push(e);
    // A key given twice: the later one wins, as it would in the kernel.
    for (const x of c ?? []) byKey.set(entryKey(x), x);
  };
  for (const e of s.entries) add(e, e);
  // An except is an entry the set does not match: a nomatch entry, more specific than its block.
  for (const e of s.except ?? []) {
    if (s.kind !== 'nets' || e.includes(' ')) invalid.push(`${e} (except)`);
    else add(`${e} (except)`, `${e} nomatch`);
  }
  check = {
    ...(!s.name.startsWith(SET_PREFIX) || !takes(setName, s.name) ? { nameError: `set ${JSON.stringify(s.name)}: a name must start with ${SET_PREFIX} and be a word of at most 31 bytes` } : {}),
    invalid,
    normalized: { ...spec, entries: [...byKey.values()].sort() },
  };
  setChecks.set(s, check);
  return check;
}

/**
 * A dispatch's rules by entry object (per family and direction): the compiler keeps a pod's
 * entries while the pod is the same, so when one pod comes or goes the new dispatch step renders
 * one rule, not one per pod.
 */
const entryLines = { 4: { src: new WeakMap<DispatchEntry, readonly string[]>(), dst: new WeakMap<DispatchEntry, readonly string[]>() }, 6: { src: new WeakMap<DispatchEntry, readonly string[]>(), dst: new WeakMap<DispatchEntry, readonly string[]>() } };

function stepLines(step: Step, family: Family): readonly string[] {
  if (!isDispatch(step)) return iptablesStep(step, family);
  const memo = entryLines[family][step.dispatch.by];
  return step.dispatch.entries.flatMap((e) => {
    let lines = memo.get(e);
    if (!lines) memo.set(e, (lines = iptablesStep({ dispatch: { ...step.dispatch, entries: [e] } }, family)));
    return lines;
  });
}

/** Rendered chains per model chain object and family: the same objects come back pass after pass. */
const rendered: Record<Family, WeakMap<Chain, ChainSpec>> = { 4: new WeakMap(), 6: new WeakMap() };

/** A model chain in the iptables form (throws what the renderer refuses), with the jump into it when hooked. */
function renderChain(c: Chain, family: Family, hook: HookJump | undefined): ChainSpec {
  const before = rendered[family].get(c);
  if (before && before.hook?.from === hook?.from && before.hook?.rule === hook?.rule) return before;
  const refs = chainRefs(c);
  const spec: ChainSpec = { name: c.name, rules: before?.rules ?? c.rules.flatMap((step) => stepLines(step, family)), jumps: refs.jumps, sets: refs.sets, ...(hook ? { hook } : {}) };
  rendered[family].set(c, spec);
  return spec;
}

/**
 * The ruleset checked (names within our prefixes and the kernel's limits, every jump, hook and set
 * reference resolved inside its family, entries valid for their set, every rule one iptables takes)
 * and rendered: rules as `iptables -S` prints them, entries in the form `ipset save` prints, the
 * hooks as jumps from the built-in chains; a RenderError lists every problem. A chain or set
 * object given again comes back as the same rendered object, so unchanged parts of a ruleset stay
 * recognizable by identity.
 */
export function normalizeRuleset(want: Ruleset): IptablesRuleset {
  const errors: string[] = [];
  const setNames = new Set<string>();
  const out = {} as Record<Family, FamilyRuleset>;
  for (const family of [4, 6] as const) {
    const sets: IpSetSpec[] = [];
    const familySets = new Set<string>();
    for (const s of want[family].sets) {
      const check = checkSet(s);
      if (check.nameError) errors.push(check.nameError);
      if (setNames.has(s.name)) errors.push(`set ${s.name}: declared twice`);
      if (s.family !== family) errors.push(`set ${s.name}: family ${s.family} in the IPv${family} ruleset`);
      setNames.add(s.name);
      familySets.add(s.name);
      for (const e of check.invalid) errors.push(`set ${s.name}: "${e}" is not an entry of a ${check.normalized.type} IPv${family} set`);
      sets.push(check.normalized);
    }
    const chainNames = new Set<string>();
    for (const c of want[family].chains) {
      if (!c.name.startsWith(CHAIN_PREFIX) || !takes(chainName, c.name)) errors.push(`chain ${JSON.stringify(c.name)}: a name must start with ${CHAIN_PREFIX} and be a word of at most 28 bytes`);
      if (chainNames.has(c.name)) errors.push(`IPv${family} chain ${c.name}: declared twice`);
      chainNames.add(c.name);
    }
    const hooks = new Map<string, HookJump>();
    for (const h of want[family].hooks) {
      const from = BUILT_IN[h.at];
      if (!from) errors.push(`IPv${family} hook ${h.at}: not in the filter table`);
      else if (!chainNames.has(h.chain)) errors.push(`IPv${family} hook ${h.at}: jumps to ${h.chain}, which is not in the ruleset`);
      else if (hooks.has(h.chain)) errors.push(`IPv${family} hook ${h.at}: ${h.chain} is hooked twice`);
      else {
        try {
          const rule = iptablesRule({ ...(h.source !== undefined ? { src: { cidr: h.source } } : {}), ...(h.comment !== undefined ? { comment: h.comment } : {}), action: { kind: 'jump', chain: h.chain } }, family);
          hooks.set(h.chain, { from, rule });
        } catch (e) {
          errors.push(`IPv${family} hook ${h.at}: ${(e as Error).message}`);
        }
      }
    }
    const chains: ChainSpec[] = [];
    for (const c of want[family].chains) {
      const refs = chainRefs(c);
      if (!refs.jumps.every((j) => chainNames.has(j)) || !refs.sets.every((x) => familySets.has(x))) {
        // Something is missing: name each rule that refers to it.
        for (const step of c.rules) {
          const shown = (): string => {
            try {
              return iptablesStep(step, family).join(' / ');
            } catch {
              return JSON.stringify(step);
            }
          };
          const tos = isDispatch(step) ? step.dispatch.entries.map((e) => e.chain) : step.action.kind === 'jump' || step.action.kind === 'goto' ? [step.action.chain] : [];
          for (const to of tos) if (!chainNames.has(to)) errors.push(`IPv${family} chain ${c.name}: "${shown()}" jumps to ${to}, which is not in the ruleset`);
          if (!isDispatch(step)) for (const m of step.sets ?? []) if (!familySets.has(m.set)) errors.push(`IPv${family} chain ${c.name}: "${shown()}" matches set ${m.set}, which is not an IPv${family} set of the ruleset`);
        }
      }
      try {
        chains.push(renderChain(c, family, hooks.get(c.name)));
      } catch (e) {
        errors.push(`IPv${family} chain ${c.name}: ${(e as Error).message}`);
      }
    }
    out[family] = { sets, chains };
  }
  if (errors.length > 0) {
    const shown = errors.slice(0, MAX_ERRORS).join('; ');
    throw new RenderError(`invalid policy ruleset: ${shown}${errors.length > MAX_ERRORS ? `; and ${errors.length - MAX_ERRORS} more` : ''}`);
  }
  return out;
}

// ---- ipset ----

export interface SetChanges {
  readonly created: string[];
  /** Grown beyond their maxelem: refilled in a new set swapped in. */
  readonly rebuilt: string[];
  /** Of another type or family: replaced through a temporary set the rules refer to meanwhile. */
  readonly retyped: string[];
  /** Existing sets whose entries changed in place. */
  readonly updated: string[];
  readonly destroyed: string[];
  /** Entries added or changed (nomatch flag), and removed. */
  added: number;
  removed: number;
}

export interface SetPlan {
  /** `ipset -exist restore` text run before the chains change ("" when nothing to do). */
  readonly update: string;
  /** Sets to destroy once no rule refers to them (apply.ts filters by what the rules use). */
  readonly destroy: readonly string[];
  /**
   * Wanted set -> the temporary set the rules must use instead for now (a set that changes type
   * or family cannot be swapped, and a set in use cannot be destroyed or renamed; the next round
   * creates it anew and moves the rules back).
   */
  readonly renames: ReadonlyMap<string, string>;
  readonly changes: SetChanges;
}

const maxelemFor = (n: number): number => (n <= DEFAULT_MAXELEM ? DEFAULT_MAXELEM : 2 ** Math.ceil(Math.log2(n * 2)));
/** An entry is an address or network, " nomatch" after it when flagged. */
const addLine = (name: string, entry: string): string => ipsetLine('add', name, ...entry.split(' '));
const createLine = (name: string, s: IpSetSpec): string => {
  const maxelem = maxelemFor(s.entries.length);
  return ipsetLine('create', name, s.type, 'family', s.family === 4 ? 'inet' : 'inet6', ...(maxelem === DEFAULT_MAXELEM ? [] : ['maxelem', String(maxelem)]));
};

/**
 * Sets of both families (one namespace in the kernel): new ones created and filled; existing ones
 * get what is missing added (an entry whose nomatch flag differs is re-added: `-exist` changes the
 * flag in place) before what is extra is deleted; a set too small is refilled aside and swapped in;
 * a set of another type or family is replaced through a temporary set (SetPlan.renames). Sets
 * of ours that are not wanted are listed for destruction.
 */
export function renderSets(want: readonly IpSetSpec[], have: ReadonlyMap<string, SetState>): SetPlan {
  const creates: string[] = [];
  const adds: string[] = [];
  const dels: string[] = [];
  const changes: SetChanges = { created: [], rebuilt: [], retyped: [], updated: [], destroyed: [], added: 0, removed: 0 };
  const renames = new Map<string, string>();
  const taken = new Set([...have.keys(), ...want.map((s) => s.name)]);
  let n = 0;
  const tempName = (): string => {
    while (taken.has(`${SET_PREFIX}-tmp${n}`)) n++;
    taken.add(`${SET_PREFIX}-tmp${n}`);
    return `${SET_PREFIX}-tmp${n}`;
  };
  const fill = (name: string, s: IpSetSpec): void => {
    creates.push(createLine(name, s), ...s.entries.map((e) => addLine(name, e)));
    changes.added += s.entries.length;
  };
  for (const s of want) {
    const h = have.get(s.name);
    // The set the last sync filled from this very object: it holds exactly these entries.
    if (h?.spec === s) continue;
    if (!h) {
      fill(s.name, s);
      changes.created.push(s.name);
    } else if (h.type !== s.type || h.family !== s.family) {
      const tmp = tempName();
      fill(tmp, s);
      renames.set(s.name, tmp);
      changes.retyped.push(s.name);
    } else if (h.maxelem < s.entries.length) {
      const tmp = tempName();
      fill(tmp, s);
      creates.push(ipsetLine('swap', tmp, setName(s.name)), ipsetLine('destroy', tmp));
      changes.rebuilt.push(s.name);
    } else {
      const wanted = new Set(s.entries.map(entryKey));
      const add = s.entries.filter((e) => h.entries.get(entryKey(e)) !== e);
      const del = [...h.entries.keys()].filter((k) => !wanted.has(k));
      adds.push(...add.map((e) => addLine(s.name, e)));
      dels.push(...del.map((k) => ipsetLine('del', s.name, k)));
      changes.added += add.length;
      changes.removed += del.length;
      if (add.length + del.length > 0) changes.updated.push(s.name);
    }
  }
  const wanted = new Set(want.map((s) => s.name));
  const destroy = [...have.keys()].filter((name) => !wanted.has(name) || renames.has(name));
  const lines = [...creates, ...adds, ...dels];
  return { update: ipsetRestoreText(lines), destroy, renames, changes };
}

/** Our sets once a sync to `want` has fully succeeded (the next sync's view when it does not read). */
export function setsAfter(want: readonly IpSetSpec[], have: ReadonlyMap<string, SetState>): Map<string, SetState> {
  const out = new Map<string, SetState>();
  for (const s of want) {
    const h = have.get(s.name);
    if (h?.spec === s) {
      out.set(s.name, h);
      continue;
    }
    const kept = h !== undefined && h.type === s.type && h.family === s.family && h.maxelem >= s.entries.length;
    out.set(s.name, { type: s.type, family: s.family, maxelem: kept ? h.maxelem : maxelemFor(s.entries.length), entries: new Map(s.entries.map((e) => [entryKey(e), e])), spec: s });
  }
  return out;
}

/** One family's table once a sync to `want` has fully succeeded (`have`: the table it started from). */
export function tableAfter(want: readonly ChainSpec[], have?: TableState): TableState {
  const chains = new Map<string, readonly string[]>();
  const specs = new Map<string, ChainSpec>();
  for (const c of want) {
    chains.set(c.name, have?.specs?.get(c.name) === c ? have.chains.get(c.name)! : c.rules.map(canonicalRule));
    specs.set(c.name, c);
  }
  return { chains, specs, refs: want.flatMap((c) => (c.hook ? [{ chain: c.hook.from, rule: c.hook.rule }] : [])) };
}

/** `ipset restore` text destroying the given sets. */
export const renderDestroy = (names: readonly string[]): string => ipsetRestoreText(names.map((s) => ipsetLine('destroy', s)));

/** The chains with set names replaced (SetPlan.renames): only those that match on a renamed set change. */
export function renameSets(chains: readonly ChainSpec[], renames: ReadonlyMap<string, string>): ChainSpec[] {
  if (renames.size === 0) return [...chains];
  const swap = (rule: string): string => rule.replace(/(--match-set\s+)(\S+)/g, (all, flag: string, name: string) => (renames.has(name) ? `${flag}${renames.get(name)}` : all));
  return chains.map((c) => (c.sets.some((x) => renames.has(x)) ? { ...c, rules: c.rules.map(swap), sets: c.sets.map((x) => renames.get(x) ?? x) } : c));
}

// ---- iptables ----

export interface ChainChanges {
  /** Chains that did not exist. */
  readonly created: string[];
  /** Existing chains whose rules differed: refilled, or edited in place (see chainEdits). */
  readonly rewritten: string[];
  /** Chains of ours that are no longer wanted, flushed and deleted. */
  readonly removed: string[];
  /** Built-in chains that got their jump into ours. */
  readonly hooked: string[];
  /** Jumps into ours from other chains that were deleted (hooks no longer wanted, duplicates, strays). */
  readonly unhooked: string[];
}

export interface ChainPlan {
  /**
   * `iptables-restore --noflush` texts run first, one commit each, that create and fill new chains
   * nothing jumps to yet (inert until `text` commits); [] unless many chains are new (see
   * PREPARE_BATCH).
   */
  readonly prepare: readonly string[];
  /** `iptables-restore --noflush` text of one family, one commit ("" when nothing differs). */
  readonly text: string;
  readonly changes: ChainChanges;
}

/**
 * New chains per preparing commit. iptables-nft keeps the chains a restore names in a sorted
 * linked list, so one restore's cost grows with lines x chains: 3,000 new chains with 14,000 rules
 * in one commit take about twice the CPU of the same in commits of 500 chains.
 */
const PREPARE_BATCH = 512;

/**
 * New chains in batches that each need only chains of ours that exist already or come in the
 * same or an earlier batch (policy chains, then pod chains, then dispatch, then hook chains).
 */
function prepareBatches(created: readonly ChainSpec[]): ChainSpec[][] {
  const byName = new Map(created.map((c) => [c.name, c]));
  const depth = new Map<string, number>();
  const depthOf = (c: ChainSpec): number => {
    let d = depth.get(c.name);
    if (d !== undefined) return d;
    // A loop (the kernel refuses those anyway) counts as no dependency.
    depth.set(c.name, 0);
    d = 0;
    for (const jump of c.jumps) {
      const t = byName.get(jump);
      if (t && t !== c) d = Math.max(d, depthOf(t) + 1);
    }
    depth.set(c.name, d);
    return d;
  };
  const ordered = [...created].sort((a, b) => depthOf(a) - depthOf(b));
  const out: ChainSpec[][] = [];
  for (let i = 0; i < ordered.length; i += PREPARE_BATCH) out.push(ordered.slice(i, i + PREPARE_BATCH));
  return out;
}

const restoreText = (lines: readonly string[]): string => iptablesRestoreText([{ table: 'filter', lines }]);
const fillLines = (chains: readonly ChainSpec[]): string[] => [...chains.map((c) => declareChain(c.name)), ...chains.flatMap((c) => appendLines(c.name, c.rules))];

/** Chains this long or longer are edited in place when few of their rules change. */
const EDIT_MIN_RULES = 32;
/** At most this share of a chain's rules deleted plus inserted, or it is refilled. */
const EDIT_MAX_SHARE = 0.25;

function sameRules(want: readonly string[], current: readonly string[]): boolean {
  if (want.length !== current.length) return false;
  for (let i = 0; i < want.length; i++) if (canonicalRule(want[i]!) !== current[i]) return false;
  return true;
}

/**
 * The restore lines that turn a long chain's `current` rules into `want` in place, when only a few
 * rules in one stretch differ (a pod added to or gone from a 1,000-rule dispatch chain: one rule,
 * not 1,000 flushed and refilled; iptables-nft refills cost by the rule). The stretch of `current`
 * is deleted, then the new rules inserted where it was. `trusted`: `current` is what our last sync
 * wrote, not what was read: rules are then deleted by their text, so a rule someone else added or
 * moved meanwhile never makes us delete the wrong one (a rule gone makes the commit fail, and the
 * next sync reads), which needs each deleted rule to appear once in the chain. Read state is
 * exact, so there rules are deleted by number. Undefined: refill instead.
 */
export function chainEdits(name: string, current: readonly string[], want: readonly string[], trusted: boolean): string[] | undefined {
  if (current.length < EDIT_MIN_RULES) return undefined;
  const n = current.length;
  const m = want.length;
  let head = 0;
  while (head < n && head < m && canonicalRule(want[head]!) === current[head]) head++;
  let tail = 0;
  while (tail < n - head && tail < m - head && canonicalRule(want[m - 1 - tail]!) === current[n - 1 - tail]) tail++;
  const removed = current.slice(head, n - tail);
  const added = want.slice(head, m - tail);
  if (removed.length + added.length > n * EDIT_MAX_SHARE) return undefined;
  const lines: string[] = [];
  for (const rule of removed) {
    if (!trusted) lines.push(command('-D', name, '', head + 1));
    else if (current.indexOf(rule) === current.lastIndexOf(rule)) lines.push(command('-D', name, rule));
    else return undefined;
  }
  added.forEach((rule, i) => lines.push(tail === 0 ? command('-A', name, rule) : command('-I', name, rule, head + 1 + i)));
  return lines;
}

/**
 * One family's filter table made to match `want`, in one commit: new chains are created and
 * filled, changed ones declared (which flushes them) and refilled or, when long and little
 * changed, edited in place, hook jumps inserted at position 1 of their built-in chain (FORWARD); every other
 * jump into our chains is deleted, and stale chains of ours are flushed and deleted last, when
 * nothing refers to them any more. A chain the last sync filled from the very same ChainSpec
 * object (TableState.specs) is not compared at all. Many new chains are created beforehand in
 * commits of their own (ChainPlan.prepare). No chains wanted: everything of ours goes, hooks
 * included.
 */
export function renderChains(want: readonly ChainSpec[], have: TableState): ChainPlan {
  const changes: ChainChanges = { created: [], rewritten: [], removed: [], hooked: [], unhooked: [] };
  const wantNames = new Set(want.map((c) => c.name));
  const hooks = want.flatMap((c) => (c.hook ? [{ chain: c.hook.from, rule: c.hook.rule }] : []));
  const kept = new Set<string>();
  const deletes: string[] = [];
  for (const ref of have.refs) {
    const key = `${ref.chain} ${canonicalRule(ref.rule)}`;
    if (!kept.has(key) && hooks.some((h) => `${h.chain} ${h.rule}` === key)) kept.add(key);
    else {
      deletes.push(command('-D', ref.chain, ref.rule));
      changes.unhooked.push(ref.chain);
    }
  }
  const inserts = hooks.filter((h) => !kept.has(`${h.chain} ${h.rule}`)).map((h) => command('-I', h.chain, h.rule, 1));
  changes.hooked.push(...hooks.filter((h) => !kept.has(`${h.chain} ${h.rule}`)).map((h) => h.chain));
  const created: ChainSpec[] = [];
  const refill: ChainSpec[] = [];
  const edits: string[] = [];
  for (const c of want) {
    const current = have.chains.get(c.name);
    if (current === undefined) {
      changes.created.push(c.name);
      created.push(c);
      refill.push(c);
      continue;
    }
    if (have.specs?.get(c.name) === c || sameRules(c.rules, current)) continue;
    changes.rewritten.push(c.name);
    const e = chainEdits(c.name, current, c.rules, have.specs !== undefined);
    if (e) edits.push(...e);
    else refill.push(c);
  }
  const prepare = created.length > PREPARE_BATCH ? prepareBatches(created).map((batch) => restoreText(fillLines(batch))) : [];
  if (prepare.length > 0) refill.splice(0, refill.length, ...refill.filter((c) => have.chains.has(c.name)));
  changes.removed.push(...[...have.chains.keys()].filter((name) => !wantNames.has(name)));
  if (refill.length + edits.length + changes.removed.length + deletes.length + inserts.length === 0) return { prepare, text: '', changes };
  const text = restoreText([
    ...[...refill.map((c) => c.name), ...changes.removed].map((name) => declareChain(name)),
    ...deletes,
    ...refill.flatMap((c) => appendLines(c.name, c.rules)),
    ...edits,
    ...inserts,
    ...changes.removed.map((name) => command('-X', name)),
  ]);
  return { prepare, text, changes };
}
