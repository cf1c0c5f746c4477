// The nftables backend of the single-owner chains (packet-filter/index.ts): each owner has a table
// of its own, `inet <owner.table>`, holding both families' chains (suffixed -4/-6) and one base
// chain per hook point (filter - 10, srcnat + 10: see nft-render.ts). The table is always written whole, in one transaction, so the kernel
// never holds half of it: the agent when its read-back differs from the printed form it wants, the
// bridge plugin blindly on a network's first ADD (no read: one exec). Texts come from nft-render.ts.
import { isDeepStrictEqual } from 'node:util';
import { CniError, Code } from '../../cni/errors.js';
import { type ParsedTable, applyNft, listTable, nftAvailable } from '../nft.js';
import type { ChainsBackend, FilterChange, Held, Owner, OwnerRules } from './index.js';
import type { Family } from './model.js';
import { deleteTableText, printedRule, printedTable, replaceTableText } from './nft-render.js';

const FAMILIES = [4, 6] as const;
const COMMAND = 'nft -f -';

interface NftHeld extends Held {
  readonly table: ParsedTable | undefined;
}

/** A tool that is not there, or a kernel without nf_tables, holds nothing of ours. */
const unusable = (e: unknown): boolean => /ENOENT|No such file or directory|not supported/i.test(String((e as Error).message ?? e));

const wantsNothing = (want: OwnerRules): boolean => FAMILIES.every((f) => want[f].chains.length === 0 && want[f].hooks.length === 0);


const asHeld = (h: Held): NftHeld => {
  if (h.dataplane !== 'nftables') throw new Error(`nftables backend handed ${h.dataplane} state`);
  return h as NftHeld;
};

const change = (owner: Owner, text: string): FilterChange => ({ dataplane: 'nftables', what: `inet ${owner.table}`, command: COMMAND, text });

export const NFT_CHAINS: ChainsBackend = {
  dataplane: 'nftables',

  async read(owner, wrap = []) {
    let table: ParsedTable | undefined;
    try {
      table = await listTable(owner.table, wrap);
    } catch (e) {
      if (!unusable(e)) throw e;
    }
    const held: NftHeld = { dataplane: 'nftables', present: table !== undefined, table };
    return held;
  },

  changes(owner, want, held) {
    const { table } = asHeld(held);
    if (wantsNothing(want)) return table ? [change(owner, deleteTableText(owner.table))] : [];
    // Exactly the wanted table, as nft prints it (no chain, set or rule more or less), or all of it anew.
    return table && isDeepStrictEqual(printedTable(want), table) ? [] : [change(owner, replaceTableText(owner.table, want))];
  },

  async apply(c, wrap = []) {
    try {
      return await applyNft(c.text, wrap);
    } catch (e) {
      return `nft: ${(e as Error).message}`;
    }
  },

  async ensure(owner, want, wrap = []) {
    if (wantsNothing(want)) return;
    const text = replaceTableText(owner.table, want);
    if (!(await nftAvailable(wrap))) throw new CniError(Code.KernelFailure, 'dataplane nftables: no usable nft here (nftables 1.0.1 or later is needed)', text);
    const err = await applyNft(text, wrap);
    if (err !== undefined) throw new CniError(Code.KernelFailure, `nft -f: ${err}`, text);
  },

  async remove(owner, wrap = []) {
    if (owner.chains.length === 0) return;
    const text = deleteTableText(owner.table);
    let err: string | undefined;
    try {
      err = await applyNft(text, wrap);
    } catch (e) {
      err = (e as Error).message;
    }
    if (err !== undefined && !unusable(err)) throw new CniError(Code.KernelFailure, `nft -f: ${err}`, text);
  },

  printed: (_chain, rule, family: Family) => printedRule(rule, family),
};
