// From (plan, what the kernel has) to the changes that make them equal, as batch lines in the order
// they must run. Shared by the agent (which applies them) and `gingham inspect` (which shows them):
// "the kernel matches" means exactly "the agent would change nothing".
import type { BatchLine } from '../../kernel/ip-batch.js';
import { type Dataplane, type FilterChange, type Held, NO_RULES, chainsBackend, otherBackends } from '../../kernel/packet-filter/index.js';
import type { Family } from '../../net/ip.js';
import { AGENT_CHAINS, agentChains } from './chains.js';
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
  /** Our chains (masquerade, service guard) as each dataplane's backend read them. */
  readonly filter: Partial<Record<Dataplane, Held>>;
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
  /** Our chains: the chosen dataplane's changes first, then the removal of what another one left. */
  readonly filter: FilterChange[];
  readonly replaced: Route[];
  readonly removed: Route[];
  /** The overlay's lines alone (devices, addresses, neighbours, FDB), for logs. */
  readonly overlay: string[];
}

export function changesFor(plan: NetworkPlan, now: KernelSnapshot): Changes {
  const overlay = diffOverlay(plan, now.overlay);
  // Routes through a device deleted now go with it: count them as absent, so they are added back.
  const gone = new Set([...overlay.recreated, ...overlay.removed]);
  const alive = (r: Route): boolean => !(r.dev && gone.has(r.dev));
  const routes = diffRoutes(plan.routes, now.routes.filter(alive));
  const nodeRoutes = diffRoutes(plan.nodeRoutes, now.nodeRoutes.filter(alive));
  // New first, old second: while both are there the stricter of the two judges, never neither. A
  // family the plan has no rules for has no chain (one left from an earlier config goes).
  const filter: FilterChange[] = [];
  const held = now.filter[plan.dataplane];
  if (held) filter.push(...chainsBackend(plan.dataplane).changes(AGENT_CHAINS, agentChains(plan), held));
  for (const other of otherBackends(plan.dataplane)) {
    const left = now.filter[other.dataplane];
    if (left?.present) filter.push(...other.changes(AGENT_CHAINS, NO_RULES, left));
  }
  return {
    ipFirst: [...routeLines({ replace: [], remove: routes.remove }), ...routeLines({ replace: [], remove: nodeRoutes.remove }, NODE_TABLE), ...overlay.ipLines],
    fdb: overlay.fdbLines,
    ipLast: [...routeLines({ replace: routes.replace, remove: [] }), ...routeLines({ replace: nodeRoutes.replace, remove: [] }, NODE_TABLE)],
    rules: ruleLines(plan.rules, now.rules),
    filter,
    replaced: routes.replace,
    removed: routes.remove,
    overlay: [...overlay.ipLines, ...overlay.fdbLines],
  };
}

export const isEmpty = (c: Changes): boolean =>
  c.ipFirst.length + c.fdb.length + c.ipLast.length + c.rules[4].length + c.rules[6].length + c.filter.length === 0;
