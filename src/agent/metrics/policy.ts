// Policy loop metrics: each pass's outcome and duration, the size of the ruleset it made true,
// failed commits, unreadable objects, the ClusterNetworkPolicies enforced, the time from an event
// to its rules in force, and the verdict counts that the verdict events feed through countVerdict().
import { Gauge } from 'prom-client';
import { type PolicyInputs, type Ruleset, TIERS, ruleCount } from '../policy/model.js';
import type { PolicyPassSummary } from '../policy/reconcile.js';
import { metrics, registry } from './registry.js';

/** On the agent's registry like the rest (README: Metrics); kept here until registry.ts lists it. */
const clusterPolicies = new Gauge({
  name: 'gingham_policy_cluster_policies',
  help: 'ClusterNetworkPolicies in the inputs of the last policy pass (those read; ones left out as unreadable are not counted), by tier.',
  labelNames: ['tier'],
  registers: [registry],
});

/** Records one policy pass (undefined: it threw) and its duration. */
export function observePolicyPass(r: PolicyPassSummary | undefined, seconds: number): void {
  const outcome = r === undefined ? 'error' : !r.ran ? 'idle' : r.failures.length > 0 ? 'failed' : 'ok';
  metrics.policySyncs.inc({ outcome });
  if (r === undefined || !r.ran) return;
  metrics.policySyncDuration.observe(seconds);
  if (r.failures.length > 0) metrics.policyCommitFailures.inc(r.failures.length);
}

/** The size of the ruleset a sync was asked to make true, per family. */
export function observeRuleset(want: Ruleset): void {
  for (const f of [4, 6] as const) {
    const family = String(f);
    metrics.policyRules.set({ family }, ruleCount(want[f].chains));
    metrics.policyChains.set({ family }, want[f].chains.length);
    metrics.policySets.set({ family }, want[f].sets.length);
    metrics.policySetEntries.set({ family }, want[f].sets.reduce((n, s) => n + s.entries.length + (s.except?.length ?? 0), 0));
  }
}

/** The ClusterNetworkPolicies a pass enforces, by tier (0 for a tier with none). */
export function observeClusterPolicies(inputs: PolicyInputs): void {
  for (const tier of TIERS) clusterPolicies.set({ tier }, (inputs.clusterPolicies ?? []).filter((p) => p.tier === tier).length);
}

/** Objects newly found unreadable (PolicySource.newProblems()): each counted once. */
export const countUnreadable = (n: number): void => {
  if (n > 0) metrics.policyUnreadable.inc(n);
};

/**
 * The time from an event to its rules in force. An event (a watch event, a relist, an IPAM
 * reservation) starts the clock unless one is running; a pass that reads its inputs takes the
 * clock over; when that pass's sync succeeds, the time since the oldest event it covered is
 * observed. A failed sync keeps the clock for the next pass, so the time counts until it works.
 */
export class EventToEnforced {
  private pending: number | undefined;
  private inPass: number | undefined;

  constructor(
    private readonly observe: (seconds: number) => void = (s) => metrics.policyEventToEnforced.observe(s),
    private readonly now: () => number = () => performance.now(),
  ) {}

  event(): void {
    this.pending ??= this.now();
  }

  /** A pass read its inputs: every event so far is in them. */
  read(): void {
    if (this.pending === undefined) return;
    this.inPass = Math.min(this.inPass ?? Infinity, this.pending);
    this.pending = undefined;
  }

  /** That pass's sync ended. */
  synced(ok: boolean): void {
    if (!ok || this.inPass === undefined) return;
    this.observe((this.now() - this.inPass) / 1000);
    this.inPass = undefined;
  }
}

/** One verdict event, as the verdict reader has enriched it. */
export interface CountedVerdict {
  readonly verdict: 'denied' | 'accepted';
  /** The local pod the policy applies to (ingress: the destination; egress: the source); "" if none was found. */
  readonly namespace: string;
  readonly pod: string;
  readonly direction: 'ingress' | 'egress';
  /** The deciding policy ("namespace/name"), or what the verdict reader calls "isolated, no rule allows". */
  readonly policy: string;
}

/** Denied-packet series by pod, so those of pods that are gone can be dropped. */
const deniedSeries = new Map<string, { namespace: string; pod: string; direction: string; policy: string }[]>();

/** Counts a verdict event: every one by verdict, a denied packet also by pod, direction and policy. */
export function countVerdict(v: CountedVerdict): void {
  metrics.policyVerdicts.inc({ verdict: v.verdict });
  if (v.verdict !== 'denied') return;
  const labels = { namespace: v.namespace, pod: v.pod, direction: v.direction, policy: v.policy };
  metrics.policyDenied.inc(labels);
  const key = `${v.namespace}/${v.pod}`;
  const known = deniedSeries.get(key) ?? [];
  if (!known.some((l) => l.direction === labels.direction && l.policy === labels.policy)) deniedSeries.set(key, [...known, labels]);
}

/** Drops the denied-packet series of pods not in `live` ("namespace/name" of this node's pods). */
export function forgetGonePods(live: () => ReadonlySet<string>): void {
  if (deniedSeries.size === 0) return;
  const keep = live();
  for (const [key, series] of deniedSeries) {
    if (keep.has(key) || key === '/') continue;
    for (const labels of series) metrics.policyDenied.remove(labels);
    deniedSeries.delete(key);
  }
}
