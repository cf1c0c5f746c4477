// From (plan, what the kernel has) to the changes that make them equal, as batch lines in the order
// they must run. Shared by the agent (which applies them) and `gingham inspect` (which shows them):
// "the kernel matches" means exactly "the agent would change nothing".
import type { BatchLine } from '../../kernel/ip-batch.js';
import type { Family } from '../../net/ip.js';
import { type ChainSpec, type Table, chainRestore, parseChain } from './chains.js';
import { MASQUERADE } from './masquerade.js';
import { SERVICE_GUARD } from './service-guard.js';
import type { NetworkPlan } from './plan.js';
import { NODE_TABLE, type Route, diffRoutes, routeLines } from './routes.js';
import { type Rule, ruleLines } from './rules.js';
import type { UnderlayAddr } from './underlay.js';
import { type OverlayState, diffOverlay } from './vxlan.js';

/** What the agent owns in the kernel, read in one go. */
export interface KernelSnapshot {
  readonly overlay: OverlayState;
  readonly addrs: UnderlayAddr[];
  readonly routes: Route[];
  /** Routes of ours in table NODE_TABLE. */
  readonly nodeRoutes: Route[];
  readonly rules: Rule[];
  /** `iptables -S` of the tables our chains live in, per family. */
  readonly iptables: Record<Family, Record<Table, string[]>>;
}

export interface Changes {
  /** `ip -batch`: stale routes out, then the overlay's devices, addresses and neighbours. */
  readonly ipFirst: BatchLine[];
  /** `bridge -batch`: the overlay's FDB (its devices exist by now). */
  readonly fdb: BatchLine[];
  /** `ip -batch`: new and moved routes (through devices that exist by now). */
  readonly ipLast: BatchLine[];
  /** `ip -4 -batch` and `ip -6 -batch`: the policy rules (after the routes of their table). */
  readonly rules: Record<Family, BatchLine[]>;
  /** `iptables-restore --noflush` texts, one per chain that differs. */
  readonly iptables: ChainChange[];
  readonly replaced: Route[];
  readonly removed: Route[];
  /** The overlay's lines alone (devices, addresses, neighbours, FDB), for logs. */
  readonly overlay: string[];
}

export interface ChainChange {
  readonly family: Family;
  readonly chain: string;
  readonly text: string;
}

export function changesFor(plan: NetworkPlan, now: KernelSnapshot): Changes {
  const overlay = diffOverlay(plan, now.overlay);
  // Routes through a device deleted now go with it: count them as absent, so they are added back.
  const gone = new Set([...overlay.recreated, ...overlay.removed]);
  const alive = (r: Route): boolean => !(r.dev && gone.has(r.dev));
  const routes = diffRoutes(plan.routes, now.routes.filter(alive));
  const nodeRoutes = diffRoutes(plan.nodeRoutes, now.nodeRoutes.filter(alive));
  const iptables: ChainChange[] = [];
  const owned: [ChainSpec, NetworkPlan['masquerade']][] = [[MASQUERADE, plan.masquerade], [SERVICE_GUARD, plan.serviceGuard]];
  for (const [spec, want] of owned) {
    for (const family of [4, 6] as const) {
      // A family the plan has no rules for has no chain (one left from an earlier config goes).
      const text = chainRestore(spec, want[family], parseChain(spec, now.iptables[family][spec.table]));
      if (text !== '') iptables.push({ family, chain: spec.chain, text });
    }
  }
  return {
    ipFirst: [...routeLines({ replace: [], remove: routes.remove }), ...routeLines({ replace: [], remove: nodeRoutes.remove }, NODE_TABLE), ...overlay.ipLines],
    fdb: overlay.fdbLines,
    ipLast: [...routeLines({ replace: routes.replace, remove: [] }), ...routeLines({ replace: nodeRoutes.replace, remove: [] }, NODE_TABLE)],
    rules: ruleLines(plan.rules, now.rules),
    iptables,
    replaced: routes.replace,
    removed: routes.remove,
    overlay: [...overlay.ipLines, ...overlay.fdbLines],
  };
}

export const isEmpty = (c: Changes): boolean =>
  c.ipFirst.length + c.fdb.length + c.ipLast.length + c.rules[4].length + c.rules[6].length + c.iptables.length === 0;
