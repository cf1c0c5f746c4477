// The iptables backend of the single-owner chains (packet-filter/index.ts): each chain of the owner
// is a chain of ours in the nat or filter table, each hook a jump from the built-in chain with a
// comment we find it by (filter hooks inserted first, ahead of anyone's ACCEPT; postrouting
// appended, after kube-proxy's). kernel/owned-chain.ts makes the restore text, iptables.ts runs it.
import { type Jump, type OwnedChain, type Table, type TableRules, ensureText, parseRules, removeText } from '../owned-chain.js';
import { applyRestore, listRules, restore } from '../iptables.js';
import { iptablesRule, iptablesRules } from './iptables-render.js';
import type { ChainsBackend, FilterChange, Held, Owner, Wrap } from './index.js';
import type { Family, FamilyRules, Hook } from './model.js';

const FAMILIES = [4, 6] as const;
const TABLES: readonly Table[] = ['nat', 'filter'];
const FROM: Record<Hook['at'], string> = { forward: 'FORWARD', input: 'INPUT', output: 'OUTPUT', postrouting: 'POSTROUTING' };
const TOOL: Record<Family, string> = { 4: 'iptables', 6: 'ip6tables' };
const EMPTY: TableRules = { chains: new Map() };

interface IptablesHeld extends Held {
  readonly tables: Record<Family, Partial<Record<Table, TableRules>>>;
}

/** The tables an owner's chains live in, nat first. */
const tablesOf = (owner: Owner): Table[] => TABLES.filter((t) => owner.chains.some((c) => c.kind === t));

/** A tool that is not installed holds nothing (spawned directly: ENOENT; through `ip netns exec`: its message). */
const missingTool = (e: unknown): boolean => /ENOENT|No such file or directory/.test(String((e as Error).message ?? e));

async function tableLines(family: Family, table: Table, wrap: Wrap, mayLackTool: boolean): Promise<string[]> {
  try {
    return await listRules(family, table, wrap);
  } catch (e) {
    if (mayLackTool && missingTool(e)) return [];
    throw e;
  }
}

const tableRules = async (family: Family, table: Table, wrap: Wrap, mayLackTool: boolean): Promise<TableRules> => parseRules(await tableLines(family, table, wrap, mayLackTool));

/** The owner's state from `iptables -t TABLE -S` lines per family (what read() lists). */
export function iptablesHeld(owner: Owner, lines: Record<Family, Partial<Record<Table, readonly string[]>>>): Held {
  const tables: IptablesHeld['tables'] = { 4: {}, 6: {} };
  for (const f of FAMILIES) for (const t of tablesOf(owner)) tables[f][t] = parseRules(lines[f][t] ?? []);
  const held: IptablesHeld = { dataplane: 'iptables', present: FAMILIES.some((f) => owner.chains.some((c) => tables[f][c.kind]?.chains.has(c.name))), tables };
  return held;
}

/** The owner's chains of one table and family, with their jumps, as owned-chain.ts takes them. */
export function ownedChains(owner: Owner, rules: FamilyRules, family: Family, table: Table): OwnedChain[] {
  if (rules.sets.length > 0) throw new Error(`${owner.table}: address sets are not for single-owner chains`);
  const out: OwnedChain[] = [];
  for (const c of rules.chains) {
    const kind = owner.chains.find((o) => o.name === c.name)?.kind;
    if (kind === undefined) throw new Error(`${owner.table}: chain ${c.name} is not one of the owner's`);
    if (kind !== table) continue;
    const jumps: Jump[] = rules.hooks
      .filter((h) => h.chain === c.name)
      .map((h) => ({ from: FROM[h.at], ...(h.source !== undefined ? { source: h.source } : {}), comment: h.comment ?? h.chain }));
    out.push({ table, chain: c.name, rules: iptablesRules(c.rules, family), jumps, first: table === 'filter' });
  }
  return out;
}

const asHeld = (h: Held): IptablesHeld => {
  if (h.dataplane !== 'iptables') throw new Error(`iptables backend handed ${h.dataplane} state`);
  return h as IptablesHeld;
};

export const IPTABLES_CHAINS: ChainsBackend = {
  dataplane: 'iptables',

  async read(owner, wrap = []) {
    const lines: Record<Family, Partial<Record<Table, string[]>>> = { 4: {}, 6: {} };
    await Promise.all(
      FAMILIES.flatMap((f) =>
        tablesOf(owner).map(async (t) => {
          lines[f][t] = await tableLines(f, t, wrap, true);
        }),
      ),
    );
    return iptablesHeld(owner, lines);
  },

  changes(owner, want, held) {
    const { tables } = asHeld(held);
    const out: FilterChange[] = [];
    // One restore per chain and family, so one chain the kernel refuses does not hold back another.
    for (const c of owner.chains) {
      for (const family of FAMILIES) {
        const have = tables[family][c.kind] ?? EMPTY;
        const wanted = ownedChains(owner, want[family], family, c.kind).find((o) => o.chain === c.name);
        const text = wanted ? ensureText(c.kind, [wanted], have) : removeText(c.kind, [c.name], have);
        if (text !== '') out.push({ dataplane: 'iptables', what: `${c.name}/${family}`, command: `${TOOL[family]}-restore --noflush`, text, family });
      }
    }
    return out;
  },

  apply(change, wrap = []) {
    if (change.family === undefined) return Promise.resolve(`${change.what}: an iptables change without a family`);
    return applyRestore(change.family, change.text, wrap);
  },

  async ensure(owner, want, wrap = []) {
    for (const family of FAMILIES) {
      for (const table of TABLES) {
        const mine = ownedChains(owner, want[family], family, table);
        if (mine.length > 0) await restore(family, ensureText(table, mine, await tableRules(family, table, wrap, false)), wrap);
      }
    }
  },

  async remove(owner, wrap = []) {
    const names = owner.chains.map((c) => c.name);
    for (const family of FAMILIES) {
      for (const table of tablesOf(owner)) await restore(family, removeText(table, names, await tableRules(family, table, wrap, true)), wrap);
    }
  },

  printed: (chain, rule, family) => `-A ${chain} ${iptablesRule(rule, family)}`,
};

