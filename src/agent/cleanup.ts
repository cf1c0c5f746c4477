// `gingham agent --cleanup`: the uninstall step. Everything the agent made on this node goes, by the
// same diff the agent runs every pass, against a plan that wants nothing: VXLAN devices (with their
// neighbours and FDB), routes and rules of ours, the masquerade and service-guard chains of every
// dataplane (the diff removes what the chosen one wants nothing of, then what any other left); then
// the NetworkPolicy chains, hooks and ipsets. Pods stay, but lose their way to other nodes.
import type { Logger } from './log.js';
import { errorText } from './log.js';
import { changesFor } from './network/changes.js';
import { type NetworkKernel, readSnapshot } from './network/kernel.js';
import type { NetworkPlan } from './network/plan.js';
import type { PolicyApplier } from './policy/apply.js';
import { applyChanges } from './reconcile.js';

/** The plan of a node that wants nothing of ours. */
export const NOTHING: NetworkPlan = { backend: 'host-gw', dataplane: 'iptables', peers: [], routes: [], nodeRoutes: [], rules: [], devices: [], neighbours: [], fdb: [], masquerade: {}, serviceGuard: {}, mtu: undefined, skipped: [] };

/** Returns the process exit code: 0 when everything went, 1 when something could not be removed. */
export async function cleanupNode(kernel: NetworkKernel, policy: Pick<PolicyApplier, 'cleanup'>, log: Logger): Promise<number> {
  let ok = true;
  try {
    const ch = changesFor(NOTHING, await readSnapshot(kernel));
    const { failed, filter } = await applyChanges(kernel, ch);
    log('info', 'network state removed', { lines: [...ch.ipFirst, ...ch.fdb, ...ch.rules[4], ...ch.rules[6]], filter });
    for (const f of failed) log('error', 'could not remove', f);
    ok = failed.length === 0;
  } catch (e) {
    log('error', 'cannot read the network state', { error: errorText(e) });
    ok = false;
  }
  const p = await policy.cleanup();
  log('info', 'NetworkPolicy state removed', { chains: { 4: p.chains[4], 6: p.chains[6] }, sets: p.sets.destroyed });
  for (const f of p.failures) log('error', 'could not remove', { ...f });
  return ok && p.failures.length === 0 ? 0 : 1;
}
