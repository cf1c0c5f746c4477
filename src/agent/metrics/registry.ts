// Every metric the agent exports, on a registry of its own (not prom-client's global one, so
// nothing another library registers shows up, and tests can reset it). The focused modules beside
// this one feed them: cni.ts (the plugin's log), ipam.ts (the IPAM store), network.ts and
// policy.ts (the loops' results); kubernetes.ts counts watch restarts. The README's "Metrics"
// section lists the same names, types and labels.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();

/** Seconds; CNI calls and passes take milliseconds to seconds, a stuck one up to its cap. */
const SHORT = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const CALLS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

const registers = [registry];

export const metrics = {
  // ---- the agent itself ----
  buildInfo: new Gauge({ name: 'gingham_build_info', help: 'Always 1: the agent\'s version, commit and the network backend of the config.', labelNames: ['version', 'commit', 'backend'], registers }),
  startTime: new Gauge({ name: 'gingham_agent_start_time_seconds', help: 'When the agent started, in seconds since the Unix epoch.', registers }),
  watchRestarts: new Counter({ name: 'gingham_api_watch_restarts_total', help: 'API watches (list+watch of one resource) that ended with an error and were started again.', labelNames: ['resource'], registers }),

  // ---- CNI calls, from the plugin's log ----
  cniCalls: new Counter({ name: 'gingham_cni_calls_total', help: 'CNI calls the plugin logged on this node, by verb, result (ok, error) and CNI error code ("" when ok).', labelNames: ['verb', 'result', 'code'], registers }),
  cniDuration: new Histogram({ name: 'gingham_cni_call_duration_seconds', help: 'Duration of CNI calls from the plugin\'s start to its answer, by verb (calls of any result).', labelNames: ['verb'], buckets: CALLS, registers }),
  cniLogLines: new Counter({ name: 'gingham_cni_log_lines_total', help: 'Lines read from the plugin\'s log file, by what they were: call (one per CNI call), other, or unreadable.', labelNames: ['kind'], registers }),

  // ---- IPAM ----
  ipamAddresses: new Gauge({ name: 'gingham_ipam_addresses', help: 'Addresses of this node\'s IPAM by network and range (the subnet; "" for a network whose ranges the agent does not know): state used or free.', labelNames: ['network', 'range', 'state'], registers }),
  ipamRepaired: new Counter({ name: 'gingham_ipam_orphans_repaired_total', help: 'Orphan claims and records removed by the IPAM\'s repair (left by a plugin that crashed mid-call).', registers }),
  ipamGcRuns: new Counter({ name: 'gingham_ipam_gc_runs_total', help: 'IPAM garbage collections (CNI GC calls that completed).', registers }),
  ipamGcReleased: new Counter({ name: 'gingham_ipam_gc_released_total', help: 'Reservations released by IPAM garbage collection (their container was gone).', registers }),

  // ---- the network loop ----
  networkPasses: new Counter({ name: 'gingham_network_passes_total', help: 'Network reconcile passes by outcome: ok, failed (the kernel refused a change), error (the pass threw), idle (no node list yet).', labelNames: ['outcome'], registers }),
  networkPassDuration: new Histogram({ name: 'gingham_network_pass_duration_seconds', help: 'Duration of network reconcile passes that ran.', buckets: SHORT, registers }),
  networkDrift: new Counter({ name: 'gingham_network_drift_total', help: 'Kernel entries found differing from the plan (route, link, address, neighbour, fdb, rule, chain): each is a line or chain the pass applied.', labelNames: ['kind'], registers }),
  networkHealed: new Counter({ name: 'gingham_network_drift_healed_total', help: 'Drift the pass fixed: the kernel took the change.', labelNames: ['kind'], registers }),
  networkPeers: new Gauge({ name: 'gingham_network_peers', help: 'Pod CIDRs of other nodes this node routes to, by how (vxlan or direct).', labelNames: ['via'], registers }),
  networkSkipped: new Gauge({ name: 'gingham_network_skipped_nodes', help: 'Nodes (this one included) left without a route or overlay in the last pass, by reason.', labelNames: ['reason'], registers }),

  // ---- the policy loop ----
  policySyncs: new Counter({ name: 'gingham_policy_syncs_total', help: 'Policy passes (compile and make the kernel match) by outcome: ok, failed (a commit was refused), error (the pass threw).', labelNames: ['outcome'], registers }),
  policySyncDuration: new Histogram({ name: 'gingham_policy_sync_duration_seconds', help: 'Duration of policy passes that ran: compile, read (on resync) and commit.', buckets: SHORT, registers }),
  policyEventToEnforced: new Histogram({ name: 'gingham_policy_event_to_enforced_seconds', help: 'From the oldest API event (pod, namespace, policy) or IPAM reservation not yet in force to the end of the sync that put it in force.', buckets: CALLS, registers }),
  policyRules: new Gauge({ name: 'gingham_policy_rules', help: 'iptables rules in the policy chains wanted by the last pass, by family.', labelNames: ['family'], registers }),
  policyChains: new Gauge({ name: 'gingham_policy_chains', help: 'Policy chains wanted by the last pass, by family.', labelNames: ['family'], registers }),
  policySets: new Gauge({ name: 'gingham_policy_sets', help: 'ipsets wanted by the last pass, by family.', labelNames: ['family'], registers }),
  policySetEntries: new Gauge({ name: 'gingham_policy_set_entries', help: 'Entries in the ipsets wanted by the last pass, by family.', labelNames: ['family'], registers }),
  policyCommitFailures: new Counter({ name: 'gingham_policy_commit_failures_total', help: 'Kernel commits (ipset or iptables restore) that failed; the previous rules stayed.', registers }),
  policyUnreadable: new Counter({ name: 'gingham_policy_objects_unreadable_total', help: 'Pods, namespaces and policies (or parts of them) left out because they could not be read; each counted once when it appears.', registers }),
  policyDenied: new Counter({ name: 'gingham_policy_denied_packets_total', help: 'Packets a policy denied, from verdict events (rate-limited per pod, so a lower bound), by the local pod, direction and deciding policy.', labelNames: ['namespace', 'pod', 'direction', 'policy'], registers }),
  policyVerdicts: new Counter({ name: 'gingham_policy_verdict_events_total', help: 'Verdict events read, by verdict (denied, accepted).', labelNames: ['verdict'], registers }),
};

/** The process metrics of prom-client (CPU, memory, file descriptors, event loop lag, GC), under our registry. */
export function collectProcessMetrics(): void {
  collectDefaultMetrics({ register: registry });
}
