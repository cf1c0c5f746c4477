// Network loop metrics from each pass's summary (reconcile.ts): outcome and duration, drift found
// and healed by kind of kernel entry (drift.ts), peers, and nodes skipped by reason.
import type { Skipped } from '../network/plan.js';
import type { PassSummary } from '../reconcile.js';
import { metrics } from './registry.js';

/** Records one network pass: its outcome, and when it ran, duration, drift, peers and skipped nodes. */
export function observeNetworkPass(r: PassSummary | undefined, seconds: number): void {
  const outcome = r === undefined ? 'error' : !r.ran ? 'idle' : r.failed.length > 0 ? 'failed' : 'ok';
  metrics.networkPasses.inc({ outcome });
  if (r === undefined || !r.ran) return;
  metrics.networkPassDuration.observe(seconds);
  for (const [kind, d] of Object.entries(r.drift)) {
    if (d.found > 0) metrics.networkDrift.inc({ kind }, d.found);
    if (d.healed > 0) metrics.networkHealed.inc({ kind }, d.healed);
  }
  metrics.networkPeers.reset();
  for (const via of ['vxlan', 'direct'] as const) metrics.networkPeers.set({ via }, r.peers.filter((p) => p.via === via).length);
  setSkipped(r.skipped);
}

/** skipped: reasons already made words (skipReason). */
function setSkipped(skipped: readonly Skipped[]): void {
  const nodes = new Map<string, Set<string>>();
  for (const s of skipped) nodes.set(s.reason, (nodes.get(s.reason) ?? new Set()).add(s.node));
  metrics.networkSkipped.reset();
  for (const [reason, n] of nodes) metrics.networkSkipped.set({ reason }, n.size);
}
