// The chains the agent owns (masquerade, service guard) as one owner of the packet-filter seam:
// per family, the chains the plan wants and the hooks that run them. The backend the agent's
// `dataplane` chooses reads them back and rewrites what differs every pass (changes.ts).
import type { Owner, OwnerRules } from '../../kernel/packet-filter/index.js';
import type { Family, FamilyRules, Rule } from '../../kernel/packet-filter/model.js';
import { MASQ_CHAIN, MASQ_HOOK } from './masquerade.js';
import { GUARD_CHAIN, GUARD_HOOKS } from './service-guard.js';

/** The agent's chains: nftables table `inet gingham`, or a chain of ours in each iptables table. */
export const AGENT_CHAINS: Owner = {
  table: 'gingham',
  chains: [
    { name: MASQ_CHAIN, kind: 'nat' },
    { name: GUARD_CHAIN, kind: 'filter' },
  ],
};

/** What the plan wants of the agent's chains: a family without rules for a chain has none. */
export interface AgentChainRules {
  readonly masquerade: Partial<Record<Family, readonly Rule[]>>;
  readonly serviceGuard: Partial<Record<Family, readonly Rule[]>>;
}

export function agentChains(plan: AgentChainRules): OwnerRules {
  const family = (f: Family): FamilyRules => {
    const masq = plan.masquerade[f];
    const guard = plan.serviceGuard[f];
    return {
      sets: [],
      chains: [...(masq ? [{ name: MASQ_CHAIN, rules: masq }] : []), ...(guard ? [{ name: GUARD_CHAIN, rules: guard }] : [])],
      hooks: [...(masq ? [MASQ_HOOK] : []), ...(guard ? GUARD_HOOKS : [])],
    };
  };
  return { 4: family(4), 6: family(6) };
}
