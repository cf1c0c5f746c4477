import { beforeEach, describe, expect, it } from 'vitest';
import type { Ruleset } from '../policy/model.js';
import type { PolicyPassSummary } from '../policy/reconcile.js';
import { EventToEnforced, countUnreadable, countVerdict, forgetGonePods, observeClusterPolicies, observePolicyPass, observeRuleset } from './policy.js';
import { registry } from './registry.js';
import { seriesOf, valueOf } from './testing.js';

describe('policy metrics', () => {
  beforeEach(() => registry.resetMetrics());

  it('counts passes by outcome and failed commits, and times the passes that ran', async () => {
    const pass = (failures: string[]): PolicyPassSummary => ({ ran: true, compileMs: 1, applyMs: 2, changes: [], failures, rules: 0, sets: 0 });
    observePolicyPass(pass([]), 0.003);
    observePolicyPass(pass(['iptables-restore (IPv4): boom', 'ipset: boom']), 0.2);
    observePolicyPass({ ...pass([]), ran: false }, 0);
    observePolicyPass(undefined, 1);
    for (const [outcome, n] of [['ok', 1], ['failed', 1], ['idle', 1], ['error', 1]] as const) expect(await valueOf('gingham_policy_syncs_total', { outcome })).toBe(n);
    expect(await valueOf('gingham_policy_commit_failures_total')).toBe(2);
    expect(await valueOf('gingham_policy_sync_duration_seconds', { le: '0.005' })).toBe(1);
    expect(await valueOf('gingham_policy_sync_duration_seconds', { le: '+Inf' })).toBe(2);
    countUnreadable(0);
    countUnreadable(3);
    expect(await valueOf('gingham_policy_objects_unreadable_total')).toBe(3);
  });

  it('sizes the wanted ruleset per family', async () => {
    const want: Ruleset = {
      4: {
        sets: [{ name: 's1', family: 4, kind: 'addrs', entries: ['198.18.1.1', '198.18.1.2'] }, { name: 's2', family: 4, kind: 'nets', entries: ['198.18.0.0/16'] }],
        // A dispatch counts a rule per address, as iptables walks it.
        chains: [{ name: 'A', rules: [{ action: { kind: 'drop' } }, { dispatch: { by: 'src', map: 'm', entries: [{ addr: '198.18.1.1', chain: 'B' }, { addr: '198.18.1.2', chain: 'B' }] } }] }, { name: 'B', rules: [{ action: { kind: 'return' } }] }],
        hooks: [],
      },
      6: { sets: [], chains: [], hooks: [] },
    };
    observeRuleset(want);
    expect(await valueOf('gingham_policy_rules', { family: 4 })).toBe(4);
    expect(await valueOf('gingham_policy_chains', { family: 4 })).toBe(2);
    expect(await valueOf('gingham_policy_sets', { family: 4 })).toBe(2);
    expect(await valueOf('gingham_policy_set_entries', { family: 4 })).toBe(3);
    expect(await valueOf('gingham_policy_rules', { family: 6 })).toBe(0);
  });

  it('counts the ClusterNetworkPolicies of the inputs by tier, 0 for a tier with none', async () => {
    const subject = { kind: 'namespaces', namespaces: { matchLabels: {}, matchExpressions: [] } } as const;
    const cnp = (name: string, tier: 'Admin' | 'Baseline') => ({ name, tier, priority: 1, subject, ingress: [], egress: [] });
    observeClusterPolicies({ policies: [], pods: [], namespaces: [], clusterPolicies: [cnp('a', 'Admin'), cnp('b', 'Admin'), cnp('c', 'Baseline')] });
    expect(await valueOf('gingham_policy_cluster_policies', { tier: 'Admin' })).toBe(2);
    expect(await valueOf('gingham_policy_cluster_policies', { tier: 'Baseline' })).toBe(1);
    observeClusterPolicies({ policies: [], pods: [], namespaces: [] });
    expect(await seriesOf('gingham_policy_cluster_policies')).toEqual([{ tier: 'Admin' }, { tier: 'Baseline' }]);
    expect(await valueOf('gingham_policy_cluster_policies')).toBe(0);
  });

  it('times an event to its rules in force from the oldest event a successful sync covered', () => {
    let now = 0;
    const seen: number[] = [];
    const c = new EventToEnforced((s) => seen.push(s), () => now);
    c.read();
    c.synced(true);
    expect(seen).toEqual([]);
    c.event();
    now = 5;
    c.event();
    now = 10;
    c.read();
    now = 12;
    // During the pass: belongs to the next one.
    c.event();
    now = 30;
    c.synced(true);
    expect(seen).toEqual([0.03]);
    c.read();
    now = 40;
    c.synced(false);
    // The failed pass's clock goes on into the next pass.
    now = 50;
    c.read();
    now = 62;
    c.synced(true);
    expect(seen).toEqual([0.03, 0.05]);
  });

  it('counts verdicts, denied packets by pod, direction and policy, and drops the series of pods that are gone', async () => {
    countVerdict({ verdict: 'denied', namespace: 'a', pod: 'p1', direction: 'ingress', policy: 'a/deny-all' });
    countVerdict({ verdict: 'denied', namespace: 'a', pod: 'p1', direction: 'ingress', policy: 'a/deny-all' });
    countVerdict({ verdict: 'denied', namespace: 'a', pod: 'p2', direction: 'egress', policy: 'a/deny-all' });
    countVerdict({ verdict: 'accepted', namespace: 'a', pod: 'p2', direction: 'egress', policy: 'a/allow' });
    expect(await valueOf('gingham_policy_denied_packets_total', { namespace: 'a', pod: 'p1', direction: 'ingress', policy: 'a/deny-all' })).toBe(2);
    expect(await valueOf('gingham_policy_verdict_events_total', { verdict: 'denied' })).toBe(3);
    expect(await valueOf('gingham_policy_verdict_events_total', { verdict: 'accepted' })).toBe(1);
    forgetGonePods(() => new Set(['a/p2']));
    expect((await seriesOf('gingham_policy_denied_packets_total')).map((l) => l['pod'])).toEqual(['p2']);
  });
});
