// The packet-filter model (model.ts) as nftables commands, for every owner's `inet` table: the
// agent network (`inet gingham`), the policy (`inet gingham-policy`) and each bridge network
// (`inet gh-net-<id>`). Every piece of text comes from nft-text.ts; this module only decides which
// pieces, in which order. Rules are written in the form `nft -s list table` prints them back, so an
// applier compares what it reads (nft.ts listTable) with printedRule(...) by string equality.
//
// Layout of a table:
// - Both families live in one table. A model chain or dispatch map NAME of family F is the nft
//   chain or map `NAME-F` (nftChainName); AddrSet names are already family-distinct and are used
//   as they are.
// - Per hook point one base chain, `hook-<at>` (hookChainName): filter at `filter - 10` for
//   forward, input and output, nat at `srcnat + 10` for postrouting, policy accept. Filter at
//   -10 runs before kube-proxy's and iptables-nft's filter chains (0), as gingham's jumps sit
//   first in FORWARD, INPUT and OUTPUT under iptables: a Service IP nothing translated is refused
//   by the guard at once, not dropped silently by kube-proxy's nftables cluster-ips-check. It is
//   still after DNAT: prerouting's (-100) is done before forward and input, and -10 runs after
//   output's (-100). Masquerade at srcnat + 10 comes after kube-proxy's (100). Its rules jump
//   to the hooked chains: `meta nfproto ipv4 jump NAME-4`, or `ip saddr SOURCE jump NAME-4` (nft
//   prints the nfproto check away when the address match implies it). IPv4 hooks first.
// - A Dispatch step is one rule `ip saddr vmap @MAP-4` (daddr for 'dst', ip6 for IPv6) and a map
//   `type ipv4_addr : verdict` of `ADDR : jump CHAIN-4` (jump: the chain goes on after the pod
//   chain returns). Entry comments are not written (nft would keep them, nothing reads them).
// - AddrSet 'addrs': `type ipv4_addr`; 'nets': `flags interval` with the entries minus the
//   excepts as the fewest CIDRs (nft has no `nomatch`; intervals may not overlap).
//
// Printed forms (nft 1.0.6, measured; the netns test src/tests/nft.test.ts locks each):
// - `meta l4proto tcp` before `tcp dport` is printed away: with a port only `tcp dport P` is
//   written (at the port's place in the order), without one `meta l4proto tcp`; ICMPv6 is
//   `meta l4proto ipv6-icmp`, or `icmpv6 type NAME` with a type (names for the known ones).
// - Marks print as 0x%08x; `meta mark & M == V`, or `meta mark V` for a full mask. A mark action
//   is `meta mark set V` (full mask), `… meta mark | V` (set bits), `… meta mark & ~M` (clear
//   bits), else `… meta mark & (~M | V) | V` (nft folds the set bits into the AND mask).
// - `limit rate N/second burst B packets`, the burst left out when it is nft's default 5.
// - `reject` in an inet table answers ICMP or ICMPv6 port-unreachable by the packet's family and
//   prints as plain `reject`, unless the rule matches an address, a set or an ICMPv6 type: then it
//   prints `reject with icmp(v6) port-unreachable`; `reject with tcp reset` needs proto tcp.
// - The comment comes last, after the verdict, as nft prints it.
//
// Exports (the nftables backends build on these):
//   nftChainName(name, family), hookChainName(at), printedRule(rule, family),
//   printedStep(step, family), setElements(set), printedTable(want) (what listTable must give),
//   replaceTableText(table, want),
//   deleteTableText(table), and the event pieces (lines for one transaction each, joined by
//   joinNft): addSetLines, setElementLines, deleteSetLines, addMapLines, deleteMapLines,
//   dispatchElementLines, addChainLines, refillChainLines, deleteChainLines.
import { type Cidr, type Family, cidrsMinus, parseCidr, parseIp } from '../../net/ip.js';
import type { ParsedChain, ParsedSet, ParsedTable } from '../nft.js';
import { type NftLine, RefusedNftText, nftAddr, nftCidr, nftCommand, nftComment, nftDocument, nftFreeText, nftIfname, nftMark, nftName, nftNumber, nftPorts, nftString, NFT_LIMITS } from '../nft-text.js';
import { type AddrSet, type Chain, type Dispatch, type FamilyRules, type Hook, type Rule, type Step, isDispatch } from './model.js';

export type HookPoint = Hook['at'];
export type Want = Readonly<Record<Family, FamilyRules>>;

/** The nft name of a model chain or dispatch map of one family. */
export const nftChainName = (name: string, family: Family): string => nftName(`${name}-${family}`, 'chain');

/** Our base chain at a hook point. */
export const hookChainName = (at: HookPoint): string => `hook-${at}`;

const HOOK_TYPE: Record<HookPoint, string> = {
  forward: '{ type filter hook forward priority filter - 10; policy accept; }',
  input: '{ type filter hook input priority filter - 10; policy accept; }',
  output: '{ type filter hook output priority filter - 10; policy accept; }',
  postrouting: '{ type nat hook postrouting priority srcnat + 10; policy accept; }',
};

/** The base-chain line `nft -s list` prints for a hook point (what listTable reports as `base`). */
export const printedHook = (at: HookPoint): string => HOOK_TYPE[at].slice(2, -2);

const HOOK_ORDER: readonly HookPoint[] = ['forward', 'input', 'output', 'postrouting'];
const IP = { 4: 'ip', 6: 'ip6' } as const;

/** ICMPv6 types nft prints by name (others print as numbers). */
const ICMPV6_NAMES: Readonly<Record<number, string>> = {
  1: 'destination-unreachable',
  2: 'packet-too-big',
  3: 'time-exceeded',
  4: 'parameter-problem',
  128: 'echo-request',
  129: 'echo-reply',
  130: 'mld-listener-query',
  131: 'mld-listener-report',
  132: 'mld-listener-done',
  133: 'nd-router-solicit',
  134: 'nd-router-advert',
  135: 'nd-neighbor-solicit',
  136: 'nd-neighbor-advert',
  137: 'nd-redirect',
  138: 'router-renumbering',
  141: 'ind-neighbor-solicit',
  142: 'ind-neighbor-advert',
  143: 'mld2-listener-report',
};

function refuse(what: string, why: string): never {
  throw new RefusedNftText(`${what}: ${why}`);
}

/** An address or CIDR from the model (canonical text) as a parsed value; a bare address is a host CIDR. */
function cidrOf(text: string, family: Family): Cidr {
  const c = text.includes('/') ? parseCidr(text) : (() => {
    const ip = parseIp(text);
    return ip && { ip, prefix: family === 4 ? 32 : 128 };
  })();
  if (!c) refuse(`address ${JSON.stringify(text)}`, 'not an address or CIDR');
  if (c.ip.family !== family) refuse(`address ${text}`, `not IPv${family}`);
  return c;
}

function hostOf(text: string, family: Family): string {
  const ip = parseIp(text);
  if (!ip) refuse(`address ${JSON.stringify(text)}`, 'not an address');
  return nftAddr(ip, family);
}

const FULL = 0xffffffff;

function markAction(value: number, mask: number): string {
  nftMark(value);
  nftMark(mask);
  if (mask === 0) refuse('mark action', 'an empty mask changes nothing');
  if ((value & ~mask) >>> 0 !== 0) refuse('mark action', `value ${nftMark(value)} outside mask ${nftMark(mask)}`);
  if (mask === FULL) return `meta mark set ${nftMark(value)}`;
  if (value === 0) return `meta mark set meta mark & ${nftMark(~mask >>> 0)}`;
  if (value === mask) return `meta mark set meta mark | ${nftMark(value)}`;
  // nft folds the bits the OR sets into the AND's mask, and prints it so.
  return `meta mark set meta mark & ${nftMark((~mask | value) >>> 0)} | ${nftMark(value)}`;
}

function markMatch(value: number, mask: number): string {
  nftMark(value);
  nftMark(mask);
  if (mask === 0) refuse('mark match', 'an empty mask matches every packet');
  if ((value & ~mask) >>> 0 !== 0) refuse('mark match', `value ${nftMark(value)} outside mask ${nftMark(mask)} never matches`);
  return mask === FULL ? `meta mark ${nftMark(value)}` : `meta mark & ${nftMark(mask)} == ${nftMark(value)}`;
}

function action(rule: Rule, family: Family): string {
  const a = rule.action;
  switch (a.kind) {
    case 'accept':
    case 'drop':
    case 'return':
    case 'masquerade':
      return a.kind;
    case 'reject':
      // A match that names the family (an address, a set, an ICMPv6 type) makes nft print the
      // ICMP flavour it implies; without one, plain `reject` answers by the packet's family.
      if (a.with === 'port-unreachable') return rule.src || rule.dst || (rule.sets?.length ?? 0) > 0 || rule.icmpv6Type !== undefined ? `reject with ${family === 4 ? 'icmp' : 'icmpv6'} port-unreachable` : 'reject';
      if (rule.proto !== 'tcp') refuse('reject with tcp reset', 'needs proto tcp');
      return 'reject with tcp reset';
    case 'jump':
    case 'goto':
      return `${a.kind} ${nftChainName(a.chain, family)}`;
    case 'mark':
      return markAction(a.value, a.mask);
    case 'log':
      return `log prefix ${nftString(a.prefix, 'log prefix', NFT_LIMITS.logPrefix, 1)} group ${nftNumber(a.group, 'log group', 0, 0xffff)} snaplen ${nftNumber(a.snaplen, 'log snaplen', 0, 0xffff)}`;
  }
}

function build(rule: Rule, family: Family): string {
  const ip = IP[family];
  const out: string[] = [];
  const addr = (dir: 'saddr' | 'daddr', m: Rule['src']): void => {
    if (m) out.push(`${ip} ${dir} ${m.not ? '!= ' : ''}${nftCidr(cidrOf(m.cidr, family), family)}`);
  };
  addr('saddr', rule.src);
  addr('daddr', rule.dst);
  if (rule.iif) out.push(`iifname ${rule.iif.not ? '!= ' : ''}${nftIfname(rule.iif.name)}`);
  if (rule.oif) out.push(`oifname ${rule.oif.not ? '!= ' : ''}${nftIfname(rule.oif.name)}`);
  const proto = rule.proto;
  if (proto === 'icmpv6' && family !== 6) refuse('proto icmpv6', 'in an IPv4 rule');
  if (rule.dport && proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') refuse('dport', 'needs proto tcp, udp or sctp');
  if (rule.icmpv6Type !== undefined && proto !== 'icmpv6') refuse('icmpv6 type', 'needs proto icmpv6');
  // The protocol is said by the port or type match where there is one (nft prints the l4proto check away).
  if (proto && !rule.dport && rule.icmpv6Type === undefined) out.push(`meta l4proto ${proto === 'icmpv6' ? 'ipv6-icmp' : proto}`);
  for (const s of rule.sets ?? []) out.push(`${ip} ${s.dir === 'src' ? 'saddr' : 'daddr'} @${nftName(s.set, 'set')}`);
  if (rule.dport) out.push(`${proto} dport ${nftPorts(rule.dport.from, rule.dport.to)}`);
  if (rule.icmpv6Type !== undefined) {
    nftNumber(rule.icmpv6Type, 'icmpv6 type', 0, 255);
    out.push(`icmpv6 type ${ICMPV6_NAMES[rule.icmpv6Type] ?? String(rule.icmpv6Type)}`);
  }
  if (rule.ct) out.push(rule.ct === 'new' ? 'ct state new' : 'ct state established,related');
  if (rule.mark) out.push(markMatch(rule.mark.value, rule.mark.mask));
  if (rule.limit) {
    const burst = nftNumber(rule.limit.burst, 'limit burst', 1, 0xffffffff);
    out.push(`limit rate ${nftNumber(rule.limit.perSecond, 'limit rate', 1, 0xffffffff)}/second${burst === '5' ? '' : ` burst ${burst} packets`}`);
  }
  out.push(action(rule, family));
  if (rule.comment !== undefined) out.push(nftComment(nftFreeText(rule.comment, NFT_LIMITS.comment)));
  return out.join(' ');
}

const printed: Record<Family, WeakMap<Rule, string>> = { 4: new WeakMap(), 6: new WeakMap() };

/** A rule's body as `nft -s list table` prints it (memoised per Rule object and family). */
export function printedRule(rule: Rule, family: Family): string {
  let s = printed[family].get(rule);
  if (s === undefined) {
    s = build(rule, family);
    printed[family].set(rule, s);
  }
  return s;
}

/** The one rule a Dispatch is in nft: a verdict-map lookup by source or destination. */
export const printedDispatch = (d: Dispatch['dispatch'], family: Family): string => `${IP[family]} ${d.by === 'src' ? 'saddr' : 'daddr'} vmap @${nftChainName(d.map, family)}`;

export const printedStep = (step: Step, family: Family): string => (isDispatch(step) ? printedDispatch(step.dispatch, family) : printedRule(step, family));

/** Printed elements by set object: the compiler hands out the same AddrSet while its members stay. */
const elementsOf = new WeakMap<AddrSet, readonly string[]>();

/** A set's elements as nft prints them: host addresses, or the CIDRs of entries minus excepts. */
export function setElements(set: AddrSet): readonly string[] {
  let out = elementsOf.get(set);
  if (out) return out;
  if (set.kind === 'addrs') out = set.entries.map((e) => hostOf(e, set.family));
  else {
    const cidrs = cidrsMinus(
      set.family,
      set.entries.map((e) => cidrOf(e, set.family)),
      (set.except ?? []).map((e) => cidrOf(e, set.family)),
    );
    out = cidrs.map((c) => nftCidr(c, set.family));
  }
  elementsOf.set(set, out);
  return out;
}

/** `{ a, b, … }`, or nothing for no elements. */
const braced = (items: readonly string[]): string => `{ ${items.join(', ')} }`;

const setType = (family: Family): string => (family === 4 ? 'ipv4_addr' : 'ipv6_addr');

/** The type and flags lines `nft -s list` prints for a set (what listTable reports). */
export const printedSetType = (set: Pick<AddrSet, 'family' | 'kind'>): { type: string; flags: string[] } => ({
  type: setType(set.family),
  flags: set.kind === 'nets' ? ['interval'] : [],
});

/** `add set` with its elements. */
export function addSetLines(table: string, set: AddrSet): NftLine[] {
  const name = nftName(set.name, 'set');
  const decl = set.kind === 'nets' ? `{ type ${setType(set.family)}; flags interval; }` : `{ type ${setType(set.family)}; }`;
  const lines = [nftCommand('add', 'set', table, name, decl)];
  const elements = setElements(set);
  if (elements.length > 0) lines.push(nftCommand('add', 'element', table, name, braced(elements)));
  return lines;
}

/**
 * Add or delete elements of a set. `elements` are in setElements' form (host addresses, or CIDRs
 * for 'nets'): diff setElements(old) with setElements(new) and add before deleting.
 */
export function setElementLines(table: string, verb: 'add' | 'delete', set: Pick<AddrSet, 'name' | 'family' | 'kind'>, elements: readonly string[]): NftLine[] {
  if (elements.length === 0) return [];
  const items = elements.map((e) => (set.kind === 'addrs' ? hostOf(e, set.family) : nftCidr(cidrOf(e, set.family), set.family)));
  return [nftCommand(verb, 'element', table, nftName(set.name, 'set'), braced(items))];
}

export const deleteSetLines = (table: string, name: string): NftLine[] => [nftCommand('delete', 'set', table, nftName(name, 'set'))];

const mapElements = (entries: readonly { addr: string; chain: string }[], family: Family): string[] => entries.map((e) => `${hostOf(e.addr, family)} : jump ${nftChainName(e.chain, family)}`);

/** `add map` of a dispatch with its elements (the chains it jumps to must exist by then). */
export function addMapLines(table: string, d: Dispatch['dispatch'], family: Family): NftLine[] {
  const name = nftChainName(d.map, family);
  const lines = [nftCommand('add', 'map', table, name, `{ type ${setType(family)} : verdict; }`)];
  if (d.entries.length > 0) lines.push(nftCommand('add', 'element', table, name, braced(mapElements(d.entries, family))));
  return lines;
}

export const deleteMapLines = (table: string, map: string, family: Family): NftLine[] => [nftCommand('delete', 'map', table, nftChainName(map, family))];

/** Add or delete entries of a dispatch map (a delete needs only the addresses). */
export function dispatchElementLines(table: string, verb: 'add' | 'delete', map: string, family: Family, entries: readonly { addr: string; chain: string }[]): NftLine[] {
  if (entries.length === 0) return [];
  const items = verb === 'add' ? mapElements(entries, family) : entries.map((e) => hostOf(e.addr, family));
  return [nftCommand(verb, 'element', table, nftChainName(map, family), braced(items))];
}

/** The maps printed as listTable reports them: `type ipv4_addr : verdict` and `ADDR : jump CHAIN-F` elements. */
export const printedMapElements = (d: Dispatch['dispatch'], family: Family): string[] => mapElements(d.entries, family);
export const printedMapType = (family: Family): string => `${setType(family)} : verdict`;

const ruleLines = (table: string, chain: Chain, family: Family): NftLine[] => {
  const name = nftChainName(chain.name, family);
  return chain.rules.map((s) => nftCommand('add', 'rule', table, name, printedStep(s, family)));
};

/** `add chain` and its rules (the chains, sets and maps they name must exist by then). */
export const addChainLines = (table: string, chain: Chain, family: Family): NftLine[] => [nftCommand('add', 'chain', table, nftChainName(chain.name, family)), ...ruleLines(table, chain, family)];

/** `flush chain` and its rules again. */
export const refillChainLines = (table: string, chain: Chain, family: Family): NftLine[] => [nftCommand('flush', 'chain', table, nftChainName(chain.name, family)), ...ruleLines(table, chain, family)];

/** `delete chain` (nothing may jump to it any more: its rules, map elements and jumps go first). */
export const deleteChainLines = (table: string, name: string, family: Family): NftLine[] => [nftCommand('delete', 'chain', table, nftChainName(name, family))];

/** The rule of our base chain that runs a hooked chain. */
export function printedHookRule(hook: Hook, family: Family): string {
  const to = `jump ${nftChainName(hook.chain, family)}`;
  return hook.source === undefined ? `meta nfproto ipv${family} ${to}` : `${IP[family]} saddr ${nftCidr(cidrOf(hook.source, family), family)} ${to}`;
}

/** Base chains by hook point, with their rules in order (IPv4 hooks first): what listTable reads back. */
export function hookChains(want: Want): Map<HookPoint, string[]> {
  const out = new Map<HookPoint, string[]>();
  for (const at of HOOK_ORDER) {
    const rules = ([4, 6] as const).flatMap((f) => want[f].hooks.filter((h) => h.at === at).map((h) => printedHookRule(h, f)));
    if (rules.length > 0) out.set(at, rules);
  }
  return out;
}

/**
 * The table `want` makes, in exactly the shape nft.ts listTable reads it back (elements sorted on
 * both sides): the resync's comparison is one deep equality (node:util isDeepStrictEqual).
 */
export function printedTable(want: Want): ParsedTable {
  const chains = new Map<string, ParsedChain>();
  const sets = new Map<string, ParsedSet>();
  for (const f of [4, 6] as const) {
    for (const s of want[f].sets) sets.set(s.name, { kind: 'set', ...printedSetType(s), typeof: false, elements: [...setElements(s)].sort() });
    for (const c of want[f].chains) {
      chains.set(nftChainName(c.name, f), { rules: c.rules.map((s) => printedStep(s, f)) });
      for (const s of c.rules) if (isDispatch(s)) sets.set(nftChainName(s.dispatch.map, f), { kind: 'map', type: printedMapType(f), typeof: false, flags: [], elements: printedMapElements(s.dispatch, f).sort() });
    }
  }
  for (const [at, rules] of hookChains(want)) chains.set(hookChainName(at), { base: printedHook(at), rules });
  return { chains, sets };
}

/** The lines that fill an empty table with `want`: sets, chains, maps, rules, base chains. */
export function tableLines(table: string, want: Want): NftLine[] {
  const lines: NftLine[] = [];
  const families = [4, 6] as const;
  for (const f of families) {
    for (const s of want[f].sets) {
      if (s.family !== f) refuse(`set ${s.name}`, `an IPv${s.family} set among the IPv${f} rules`);
      lines.push(...addSetLines(table, s));
    }
  }
  // Every chain exists before any rule or map element jumps to it.
  for (const f of families) for (const c of want[f].chains) lines.push(nftCommand('add', 'chain', table, nftChainName(c.name, f)));
  for (const f of families) for (const c of want[f].chains) for (const s of c.rules) if (isDispatch(s)) lines.push(...addMapLines(table, s.dispatch, f));
  for (const f of families) for (const c of want[f].chains) lines.push(...ruleLines(table, c, f));
  for (const [at, rules] of hookChains(want)) {
    const name = hookChainName(at);
    lines.push(nftCommand('add', 'chain', table, name, HOOK_TYPE[at]));
    for (const r of rules) lines.push(nftCommand('add', 'rule', table, name, r));
  }
  return lines;
}

/** Create-or-empty then delete: legal whether the table exists or not (nft 1.0.6 has no `destroy`). */
const dropTable = (table: string): NftLine[] => [nftCommand('add', 'table', table), nftCommand('delete', 'table', table)];

/** The whole table replaced by `want` in one transaction: it is never seen half made. */
export const replaceTableText = (table: string, want: Want): string => nftDocument([...dropTable(table), nftCommand('add', 'table', table), ...tableLines(table, want)]);

/** The table removed, whether it exists or not. */
export const deleteTableText = (table: string): string => nftDocument(dropTable(table));

/** One `nft -f -` text (one transaction) of several pieces, in order. */
export const joinNft = (...pieces: readonly (readonly NftLine[])[]): string => nftDocument(pieces.flat());
