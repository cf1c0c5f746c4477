// The iptables chains the agent owns (masquerade, service guard): each one chain of ours in one
// table, jumped to from built-in chains by rules carrying a one-word comment. Compared with
// `iptables -S` and rewritten in one `iptables-restore --noflush` when they differ, by the same
// code as the bridge plugin's chains (kernel/owned-chain.ts).
import { type Jump, type Table, type TableRules, ensureText, parseRules, removeText } from '../../kernel/owned-chain.js';

export type { Table };

export interface ChainSpec {
  readonly table: Table;
  readonly chain: string;
  readonly jumps: readonly Jump[];
  /** Insert missing jumps at the top of their chain (ahead of anyone's ACCEPT) instead of appending. */
  readonly first: boolean;
}

/** The table the chain lives in, as read back. */
export type ChainState = TableRules;

/** From `iptables -t TABLE -S` (every rule of the table). */
export const parseChain = (_spec: ChainSpec, lines: readonly string[]): ChainState => parseRules(lines);

/**
 * The restore text that makes the kernel match `want` (the chain's rules as `iptables -S CHAIN`
 * prints them, "-A CHAIN ..."; undefined: remove the chain and every jump to it), or "" when it
 * already does.
 */
export function chainRestore(spec: ChainSpec, want: readonly string[] | undefined, have: ChainState): string {
  if (want === undefined) return removeText(spec.table, [spec.chain], have);
  const head = `-A ${spec.chain} `;
  const rules = want.map((l) => (l.startsWith(head) ? l.slice(head.length) : l));
  return ensureText(spec.table, [{ table: spec.table, chain: spec.chain, rules, jumps: spec.jumps, first: spec.first }], have);
}
