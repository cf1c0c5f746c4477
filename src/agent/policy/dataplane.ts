// What the policy loop needs of a dataplane, whichever renders the ruleset: make the kernel match
// a Ruleset (reading it back or trusting the last sync), and remove everything of ours. The
// iptables applier (apply.ts) and the nftables applier (nft-apply.ts) both answer it; the agent
// picks one by its `dataplane` setting, in one place (policyDataplane).
import type { Ruleset } from './model.js';
import { PolicyApplier, type PolicySyncResult } from './apply.js';
import { NftPolicyApplier } from './nft-apply.js';

export type Dataplane = 'iptables' | 'nftables';
export const DATAPLANES: readonly Dataplane[] = ['iptables', 'nftables'];

export interface PolicyDataplane {
  readonly name: Dataplane;
  /** Calls run one at a time; a failure is reported in the result, never thrown. */
  sync(want: Ruleset, opts?: { read?: boolean }): Promise<PolicySyncResult>;
  /** Remove every chain, hook and set of ours. */
  cleanup(): Promise<PolicySyncResult>;
}

/** The applier of a dataplane; netns: a named network namespace (tests), else the agent's own. */
export function policyDataplane(name: Dataplane, netns?: string): PolicyDataplane {
  if (name === 'nftables') return new NftPolicyApplier(netns);
  const iptables = new PolicyApplier(netns);
  return { name, sync: (want, opts) => iptables.sync(want, opts), cleanup: () => iptables.cleanup() };
}
