// What the policy loop needs of a dataplane, whichever renders the ruleset: make the kernel match
// a Ruleset (reading it back or trusting the last sync), and remove everything of ours. The
// iptables applier (apply.ts) and the nftables applier (nft-apply.ts) both answer it; the agent
// picks one by its `dataplane` setting, in one place (policyDataplane).
import type { Dataplane } from '../../kernel/packet-filter/index.js';
import type { Ruleset } from './model.js';
import { PolicyApplier, type PolicySyncResult, mergeResult, sctpPortsSupported } from './apply.js';
import { NftPolicyApplier, nftSctpPortsSupported } from './nft-apply.js';

// The names are the packet filter's (the config's `dataplane` key): one setting for every layer.
export { DATAPLANES, type Dataplane } from '../../kernel/packet-filter/index.js';

export interface PolicyDataplane {
  readonly name: Dataplane;
  /** Calls run one at a time; a failure is reported in the result, never thrown. */
  sync(want: Ruleset, opts?: { read?: boolean }): Promise<PolicySyncResult>;
  /** Remove every chain, hook and set of ours. */
  cleanup(): Promise<PolicySyncResult>;
}

/** The applier of a dataplane; netns: a named network namespace (tests), else the agent's own. */
export function policyDataplane(name: Dataplane, netns?: string): PolicyDataplane {
  return name === 'nftables' ? new NftPolicyApplier(netns) : new PolicyApplier(netns);
}

/** Whether the dataplane can match SCTP ports here (the compiler leaves such rules out otherwise). */
export const sctpPortsFor = (name: Dataplane, netns?: string): Promise<boolean> => (name === 'nftables' ? nftSctpPortsSupported(netns) : sctpPortsSupported(netns));

/**
 * Every given dataplane's cleanup, one after the other, as one result: what any of them left goes
 * (`gingham agent --cleanup`, networkPolicy off).
 */
export async function cleanupAll(dataplanes: readonly PolicyDataplane[]): Promise<PolicySyncResult> {
  const results = [];
  for (const d of dataplanes) results.push(await d.cleanup());
  const [first, ...rest] = results;
  if (!first) throw new Error('cleanupAll: no dataplane');
  for (const r of rest) mergeResult(first, r);
  return first;
}
