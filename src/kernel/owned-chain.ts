// A chain of ours in a built-in table, jumped to from built-in chains: the shape of the bridge
// plugin's per-network chains and the agent's masquerade and service-guard chains. The data says
// what is wanted (table, chain, rules, jumps); ensureText and removeText turn it and the table as
// read into the iptables-restore text that makes the kernel match, "" when it already does.
// Declaring a chain flushes it, so new rules replace old ones in one commit, with no moment in
// between. This is the seam another packet filter backend would slot in behind.
import { appendLines, canonicalRule, chainName, command, comment, declareChain, restoreText, word } from './iptables-text.js';

export type Table = 'nat' | 'filter';

/** A jump into our chain from a built-in chain: from these sources (or all), with a comment we find it by. */
export interface Jump {
  readonly from: string;
  readonly source?: string;
  readonly comment: string;
}

export interface OwnedChain {
  readonly table: Table;
  readonly chain: string;
  /** The chain's rules, each as `iptables -S` prints it after "-A CHAIN ". */
  readonly rules: readonly string[];
  readonly jumps: readonly Jump[];
  /** Insert missing jumps at the top of their chain (ahead of anyone's ACCEPT) instead of appending. */
  readonly first: boolean;
}

/** A table as read: its chains (built-in ones too) and their rules, as printed. */
export interface TableRules {
  readonly chains: ReadonlyMap<string, readonly string[]>;
}

/** From `iptables -t TABLE -S` lines. */
export function parseRules(lines: readonly string[]): TableRules {
  const chains = new Map<string, string[]>();
  for (const l of lines) {
    const m = /^-([NPA]) (\S+)(?: (.*))?$/.exec(l);
    if (!m) continue;
    const [, kind, chain, rest] = m as unknown as [string, string, string, string | undefined];
    let rules = chains.get(chain);
    if (!rules) chains.set(chain, (rules = []));
    if (kind === 'A' && rest !== undefined) rules.push(rest);
  }
  return { chains };
}

/** The jump's rule as -S prints it after "-A FROM ". */
export const jumpRule = (j: Jump, chain: string): string => `${j.source ? `-s ${word(j.source, 'source')} ` : ''}${comment(j.comment)} -j ${chainName(chain)}`;

const sameRules = (want: readonly string[], have: readonly string[] | undefined): boolean =>
  have !== undefined && have.length === want.length && want.every((r, i) => canonicalRule(r) === canonicalRule(have[i]!));

/** The lines that make the chains of one table exactly as wanted and jumped to. */
function ensureLines(chains: readonly OwnedChain[], have: TableRules): string[] {
  const lines: string[] = [];
  for (const c of chains) {
    const missing = c.jumps.filter((j) => !(have.chains.get(j.from) ?? []).some((r) => canonicalRule(r) === canonicalRule(jumpRule(j, c.chain))));
    if (sameRules(c.rules, have.chains.get(c.chain)) && missing.length === 0) continue;
    lines.push(declareChain(c.chain), ...appendLines(c.chain, c.rules));
    for (const j of missing) lines.push(c.first ? command('-I', j.from, jumpRule(j, c.chain), 1) : command('-A', j.from, jumpRule(j, c.chain)));
  }
  return lines;
}

/** Restore text that makes one table hold these chains and their jumps, or "". */
export function ensureText(table: Table, chains: readonly OwnedChain[], have: TableRules): string {
  const lines = ensureLines(chains, have);
  return lines.length === 0 ? '' : restoreText([{ table, lines }]);
}

/** The lines that remove the chains and every rule of another chain that jumps or goes to them. */
function removeLines(chains: readonly string[], have: TableRules): string[] {
  const ours = new Set(chains);
  const present = chains.filter((c) => have.chains.has(c));
  const lines = present.map(declareChain);
  for (const [from, rules] of have.chains) {
    if (ours.has(from)) continue;
    for (const r of rules) {
      const target = / -[jg] (\S+)$/.exec(` ${r}`)?.[1];
      if (target !== undefined && ours.has(target)) lines.push(command('-D', from, r));
    }
  }
  for (const c of present) lines.push(command('-X', c));
  return lines;
}

/** Restore text that removes the chains and every jump to them from one table, or "". */
export function removeText(table: Table, chains: readonly string[], have: TableRules): string {
  const lines = removeLines(chains, have);
  return lines.length === 0 ? '' : restoreText([{ table, lines }]);
}
