// The iptables dataplane of NetworkPolicy: make ipset and the filter tables match a Ruleset
// (rendered by render.ts, through the packet-filter model's iptables renderer). The order
// keeps every packet judged by a complete ruleset: sets are created and filled first (nothing
// refers to a new set yet; in existing sets entries are added before others are deleted), then
// each family's chains change in one atomic iptables-restore commit (many new chains are created
// and filled beforehand in commits of their own, inert until that commit jumps to them), and only
// then are sets that no rule refers to any more destroyed. A failed commit changes nothing
// (iptables-restore applies all or nothing), so the previous rules stay in force; the failure is
// reported, never thrown, and the next sync tries again. A sync that finds the kernel as wanted
// runs only the three reads; one that trusts the last state (read: false) and finds one pod
// changed runs one ipset and one iptables restore of the changed chains.
import { performance } from 'node:perf_hooks';
import { run } from '../../kernel/exec.js';
import type { Family } from '../../net/ip.js';
import { applyRestore, saveTable } from '../../kernel/iptables.js';
import { command, declareChain, restoreText } from '../../kernel/iptables-text.js';
import { type IpPrefix, KernelReadError } from '../network/kernel.js';
import type { PolicyDataplane } from './dataplane.js';
import { CHAIN_PREFIX, type Ruleset } from './model.js';
import {
  type ChainChanges,
  type IptablesRuleset,
  type SetChanges,
  type SetState,
  type TableState,
  normalizeRuleset,
  parseIpsetSave,
  parseIptablesSave,
  renameSets,
  renderChains,
  renderDestroy,
  renderSets,
  setsAfter,
  setsOf,
  tableAfter,
} from './render.js';

export interface PolicyFailure {
  /**
   * read: the state could not be read; render: the ruleset is invalid; ipset, iptables, nft,
   * destroy: that restore or transaction failed; exec: a tool could not be started.
   */
  readonly step: 'read' | 'render' | 'ipset' | 'iptables' | 'nft' | 'destroy' | 'exec';
  readonly family?: Family;
  /** The tool's error text. */
  readonly error: string;
}

export interface PolicySyncResult {
  readonly chains: Record<Family, ChainChanges>;
  readonly sets: SetChanges;
  readonly failures: PolicyFailure[];
  /** Execs that read the kernel (3 a round; 0 when the last sync's state was trusted). */
  reads: number;
  /** Execs that changed the kernel (restores); 0 when it already matched. */
  restores: number;
  /** setsMs: ipset restores (nftables: 0, sets change in the rules' transaction); rulesMs: iptables-restore or nft. */
  readonly timings: { readMs: number; renderMs: number; setsMs: number; rulesMs: number; destroyMs: number; totalMs: number };
}

const EMPTY: Ruleset = { 4: { sets: [], chains: [], hooks: [] }, 6: { sets: [], chains: [], hooks: [] } };

const noChainChanges = (): ChainChanges => ({ created: [], rewritten: [], removed: [], hooked: [], unhooked: [] });

/** A result with nothing done yet (both dataplanes' appliers start from it). */
export function emptyResult(): PolicySyncResult {
  return {
    chains: { 4: noChainChanges(), 6: noChainChanges() },
    sets: { created: [], rebuilt: [], retyped: [], updated: [], destroyed: [], added: 0, removed: 0 },
    failures: [],
    reads: 0,
    restores: 0,
    timings: { readMs: 0, renderMs: 0, setsMs: 0, rulesMs: 0, destroyMs: 0, totalMs: 0 },
  };
}

function mergeSets(into: PolicySyncResult, sets: SetChanges): void {
  for (const k of ['created', 'rebuilt', 'retyped', 'updated'] as const) into.sets[k].push(...sets[k].filter((s) => !into.sets[k].includes(s)));
  into.sets.added += sets.added;
  into.sets.removed += sets.removed;
}

function mergeChains(into: PolicySyncResult, f: Family, chains: ChainChanges): void {
  for (const k of ['created', 'rewritten', 'removed', 'hooked', 'unhooked'] as const) into.chains[f][k].push(...chains[k]);
}

/** Adds a whole result to `into`: one result for several syncs (the cleanup of both dataplanes). */
export function mergeResult(into: PolicySyncResult, r: PolicySyncResult): void {
  mergeSets(into, r.sets);
  into.sets.destroyed.push(...r.sets.destroyed.filter((s) => !into.sets.destroyed.includes(s)));
  for (const f of [4, 6] as const) mergeChains(into, f, r.chains[f]);
  into.failures.push(...r.failures);
  into.reads += r.reads;
  into.restores += r.restores;
  for (const k of ['readMs', 'renderMs', 'setsMs', 'rulesMs', 'destroyMs', 'totalMs'] as const) into.timings[k] += r.timings[k];
}

interface KernelState {
  readonly tables: Record<Family, TableState>;
  readonly sets: Map<string, SetState>;
}

/**
 * The kernel once a sync to `want` has fully succeeded; `last`: the state that sync started from;
 * `lingering`: sets of `last` it left in place though unwanted.
 */
function stateAfter(want: IptablesRuleset, last: KernelState | undefined, lingering: readonly string[]): KernelState {
  const sets = setsAfter([...want[4].sets, ...want[6].sets], last?.sets ?? new Map());
  for (const name of lingering) {
    const s = last?.sets.get(name);
    if (s && !sets.has(name)) sets.set(name, s);
  }
  return { tables: { 4: tableAfter(want[4].chains, last?.tables[4]), 6: tableAfter(want[6].chains, last?.tables[6]) }, sets };
}

export class PolicyApplier implements PolicyDataplane {
  readonly name = 'iptables';
  private readonly wrap: IpPrefix;
  /** The sync in progress: the next one starts after it (syncNow never rejects). */
  private last: Promise<unknown> = Promise.resolve();
  /** The kernel as the last fully successful sync left it (during a sync: as it read it); undefined after a failure. */
  private known: KernelState | undefined;
  /** Unused sets the current sync leaves for a later one (see round); kept in `known`. */
  private lingering: readonly string[] = [];

  /** netns: a named network namespace (tests); the agent works in its own. */
  constructor(netns?: string) {
    this.wrap = netns ? ['ip', 'netns', 'exec', netns] : [];
  }

  /**
   * Both filter tables and our sets, read concurrently (three execs). A family the kernel lacks
   * (no IPv6: "not supported", "table does not exist") counts as empty when nothing is wanted in it.
   */
  private async read(want: IptablesRuleset): Promise<KernelState> {
    const ipsetSave = async (): Promise<string> => {
      const r = await run([...this.wrap, 'ipset', 'save']);
      if (r.code === 0) return r.stdout;
      throw new KernelReadError(`ipset save: ${r.stderr.trim() || `exit ${r.code}`}`);
    };
    const unused = (f: Family): boolean => want[f].chains.length === 0 && want[f].sets.length === 0;
    const [t4, t6, sets] = await Promise.all([saveTable(4, 'filter', this.wrap, unused(4)), saveTable(6, 'filter', this.wrap, unused(6)), ipsetSave()]);
    return { tables: { 4: parseIptablesSave(t4), 6: parseIptablesSave(t6) }, sets: parseIpsetSave(sets) };
  }

  /** One `ipset -exist restore`; its error or undefined. */
  private async ipset(text: string): Promise<string | undefined> {
    const r = await run([...this.wrap, 'ipset', '-exist', 'restore'], text);
    return r.code === 0 ? undefined : r.stderr.trim() || `exit ${r.code}`;
  }

  /**
   * Make the kernel match `want`. Usually one round; a set that must change type or family takes
   * two (the rules use a temporary set in between, see renderSets). Calls run one at a time.
   *
   * `read: false` trusts the state the previous successful sync left instead of reading it: for
   * event-driven updates, where the reads would cost more than the change. What someone else
   * changed meanwhile is then neither seen nor healed until the next sync that reads (the
   * periodic resync); a restore that fails on such a difference is reported as usual and makes
   * the next sync read. Chains and sets that are the very objects the last sync applied are not
   * compared at all (the compiler hands out the same objects for what did not change), long
   * chains with a few rules changed are edited in place, and sets no rule uses any more wait for
   * a later sync, so one pod's change costs one ipset and one iptables-restore of a few lines.
   */
  sync(want: Ruleset, opts: { read?: boolean } = {}): Promise<PolicySyncResult> {
    const next = this.last.then(() => this.syncNow(want, opts.read ?? true));
    this.last = next;
    return next;
  }

  private async syncNow(want: Ruleset, read: boolean): Promise<PolicySyncResult> {
    const start = performance.now();
    this.lingering = [];
    const result = emptyResult();
    let wanted: IptablesRuleset | undefined;
    try {
      wanted = normalizeRuleset(want);
    } catch (e) {
      result.failures.push({ step: 'render', error: (e as Error).message });
    }
    result.timings.renderMs += performance.now() - start;
    try {
      for (let round = 0; wanted && round < 2; round++) {
        const again = await this.round(wanted, result, read || round > 0);
        if (!again || result.failures.length > 0) break;
      }
    } catch (e) {
      // A tool that cannot be started at all (run rejects): the kernel is as the last exec left it.
      result.failures.push({ step: 'exec', error: (e as Error).message });
    }
    this.known = wanted && result.failures.length === 0 ? stateAfter(wanted, this.known, this.lingering) : undefined;
    result.timings.totalMs = performance.now() - start;
    return result;
  }

  /** Remove every chain, hook and set of ours (`gingham agent --cleanup`). */
  cleanup(): Promise<PolicySyncResult> {
    return this.sync(EMPTY);
  }

  /** One read-render-apply pass; true when a second is needed (temporary sets in use). */
  private async round(want: IptablesRuleset, result: PolicySyncResult, read: boolean): Promise<boolean> {
    const t = result.timings;
    let mark = performance.now();
    const lap = (): number => {
      const now = performance.now();
      const ms = now - mark;
      mark = now;
      return ms;
    };
    let have = read ? undefined : this.known;
    if (!have) {
      result.reads += 3;
      try {
        have = await this.read(want);
      } catch (e) {
        result.failures.push({ step: 'read', error: (e as Error).message });
        return false;
      }
      this.known = have;
    }
    t.readMs += lap();
    const setPlan = renderSets([...want[4].sets, ...want[6].sets], have.sets);
    const chains = { 4: renameSets(want[4].chains, setPlan.renames), 6: renameSets(want[6].chains, setPlan.renames) };
    const chainPlans = { 4: renderChains(chains[4], have.tables[4]), 6: renderChains(chains[6], have.tables[6]) };
    t.renderMs += lap();

    if (setPlan.update !== '') {
      result.restores++;
      const error = await this.ipset(setPlan.update);
      t.setsMs += lap();
      // Without the sets the new rules need, committing them would fail or misjudge: stop here.
      if (error !== undefined) {
        result.failures.push({ step: 'ipset', error });
        return false;
      }
    }
    mergeSets(result, setPlan.changes);

    // The two families are separate tables: their commits run side by side. New chains prepared
    // in commits of their own are inert until the last commit jumps to them; a failure stops the
    // family there (what was prepared is seen, and kept or removed, by the next sync's read).
    const committed = { 4: true, 6: true };
    await Promise.all(
      ([4, 6] as const).map(async (f) => {
        const plan = chainPlans[f];
        for (const text of [...plan.prepare, plan.text]) {
          if (text === '') continue;
          result.restores++;
          const error = await applyRestore(f, text, this.wrap);
          if (error !== undefined) {
            committed[f] = false;
            result.failures.push({ step: 'iptables', family: f, error });
            return;
          }
        }
        mergeChains(result, f, plan.changes);
      }),
    );
    t.rulesMs += lap();

    // A set some rule in force still matches on cannot be destroyed (and must not be): after a
    // failed commit the family's old rules are those in force.
    // (What the kernel holds is text: its sets are read from the rules.)
    const inForce = (f: Family): readonly string[] => (committed[f] ? chains[f].flatMap((c) => c.sets) : [...have.tables[f].chains.values()].flatMap((rules) => rules.flatMap(setsOf)));
    const used = setPlan.destroy.length === 0 ? new Set<string>() : new Set(([4, 6] as const).flatMap(inForce));
    const destroy = setPlan.destroy.filter((s) => !used.has(s));
    // Unused sets are inert: a sync that trusts the last state and has already changed something
    // (an event's) leaves them to the next sync that reads or has nothing else to run, so an
    // event costs one ipset and one iptables exec. A round that reads destroys them all, and so
    // does one that moved rules to temporary sets: the next round creates the wanted sets anew by
    // their names, so the old ones must be gone by then.
    if (destroy.length > 0 && !read && result.restores > 0 && setPlan.renames.size === 0) this.lingering = destroy;
    else {
      this.lingering = [];
      if (destroy.length > 0) {
        result.restores++;
        const error = await this.ipset(renderDestroy(destroy));
        if (error !== undefined) result.failures.push({ step: 'destroy', error });
        // ipset restore stops at the first failing line; re-reading is left to the next sync.
        else result.sets.destroyed.push(...destroy.filter((s) => !result.sets.destroyed.includes(s)));
        t.destroyMs += lap();
      }
    }
    return setPlan.renames.size > 0;
  }
}

/**
 * Whether iptables takes an SCTP port match (`-p sctp -m sctp --dport N`) in every family the
 * node has. A real commit on a scratch chain, removed by a second commit in the same exec:
 * `--test` would not ask the kernel (iptables-legacy builds the table in user space, so a missing
 * xt_sctp shows only on commit). A family that refuses even a plain rule is one the node lacks
 * and does not count. The compiler leaves SCTP port rules out when this is false, so they can
 * never fail a TCP/UDP ruleset. Run it before the first sync (a sync meanwhile would see the
 * scratch chain as stale).
 */
export async function sctpPortsSupported(netns?: string): Promise<boolean> {
  const wrap: IpPrefix = netns ? ['ip', 'netns', 'exec', netns] : [];
  const chain = `${CHAIN_PREFIX}-SCTP-PROBE`;
  const probe = (rule: string): string =>
    restoreText([
      { table: 'filter', lines: [declareChain(chain), command('-A', chain, rule)] },
      { table: 'filter', lines: [declareChain(chain), command('-X', chain)] },
    ]);
  const accepted = await Promise.all(
    ([4, 6] as const).map(async (f) => (await applyRestore(f, probe('-p sctp -m sctp --dport 9 -j RETURN'), wrap)) === undefined || (await applyRestore(f, probe('-j RETURN'), wrap)) !== undefined),
  );
  return accepted.every(Boolean);
}
