// The iptables chains the agent owns, as data: a chain of ours in one table, jumped to from
// built-in chains by rules that carry a one-word comment (so `-S` prints them unquoted and we find
// them again). Its rules are compared with `iptables -S` and rewritten in one `iptables-restore
// --noflush` when they differ: declaring the chain flushes it, so the new rules replace the old
// ones in one commit, with no moment in between.
export type Table = 'nat' | 'filter';

export interface ChainSpec {
  readonly table: Table;
  readonly chain: string;
  /** The jumps to it, as `-S` prints them ("-A POSTROUTING -m comment --comment X -j CHAIN"). */
  readonly jumps: readonly string[];
  /** Insert missing jumps at the top of their chain (ahead of anyone's ACCEPT) instead of appending. */
  readonly first: boolean;
}

/** One chain as read back: its rules (undefined when it does not exist), and which jumps exist. */
export interface ChainState {
  readonly rules: string[] | undefined;
  readonly jumps: boolean[];
}

/** From `iptables -t TABLE -S` (every rule of the table). */
export function parseChain(spec: ChainSpec, lines: readonly string[]): ChainState {
  return {
    rules: lines.includes(`-N ${spec.chain}`) ? lines.filter((l) => l.startsWith(`-A ${spec.chain} `)) : undefined,
    jumps: spec.jumps.map((j) => lines.includes(j)),
  };
}

/**
 * The restore text that makes the kernel match `want` (undefined: remove the chain and its
 * jumps), or "" when it already does.
 */
export function chainRestore(spec: ChainSpec, want: readonly string[] | undefined, have: ChainState): string {
  const lines = [`*${spec.table}`];
  if (want === undefined) {
    if (have.rules === undefined && !have.jumps.some(Boolean)) return '';
    spec.jumps.forEach((j, i) => have.jumps[i] && lines.push(j.replace(/^-A/, '-D')));
    if (have.rules !== undefined) lines.push(`:${spec.chain} - [0:0]`, `-X ${spec.chain}`);
    return `${[...lines, 'COMMIT'].join('\n')}\n`;
  }
  const same = have.rules !== undefined && have.rules.length === want.length && have.rules.every((l, i) => l === want[i]);
  if (same && have.jumps.every(Boolean)) return '';
  lines.push(`:${spec.chain} - [0:0]`, ...want);
  spec.jumps.forEach((j, i) => have.jumps[i] || lines.push(spec.first ? j.replace(/^-A (\S+)/, '-I $1 1') : j));
  return `${[...lines, 'COMMIT'].join('\n')}\n`;
}
