// The ClusterNetworkPolicies of the policy scale bench (policy-bench.ts): `perTier` Admin and as
// many Baseline policies over testing.ts's synthetic cluster (namespaces ns0-ns19 labelled `ns` and
// `team` t0-t3; pods labelled app0-app24 and tier front/back/db, with a named port `http`), and the
// nodes their `nodes` peers select. Deterministic, and as mixed as a cluster admin's would be:
// namespace and pod subjects, some nearly cluster-wide; one to four ingress and zero to three egress
// rules each, with namespace, pod, networks and nodes peers; single ports, ranges, named ports (one
// no pod gives) and all-ports rules on TCP, UDP and SCTP; Accept, Deny and Pass; priorities with ties.
import type { ClusterAction, ClusterPeer, ClusterPodSelection, ClusterPolicy, ClusterPort, ClusterRule, NodePeerInfo, Protocol, Tier } from '../agent/policy/model.js';
import { sel } from '../agent/policy/testing.js';

const NS = 20;
const APPS = 25;
const TEAMS = 4;
const NODES = 20;

const team = (i: number): string => `t${i % TEAMS}`;
const port = (protocol: Protocol, p: number, endPort?: number): ClusterPort => ({ kind: 'port', protocol, port: p, ...(endPort === undefined ? {} : { endPort }) });
const named = (name: string): ClusterPort => ({ kind: 'named', name });
const namespaces = (labels: Record<string, string>): ClusterPeer => ({ kind: 'namespaces', namespaces: sel(labels) });
const pods = (nsLabels: Record<string, string>, podLabels: Record<string, string>): ClusterPeer => ({ kind: 'pods', namespaces: sel(nsLabels), pods: sel(podLabels) });

/** Who policy i is about: a team's namespaces, one app, the databases of two teams, or all but two namespaces. */
function subject(i: number): ClusterPodSelection {
  switch (i % 4) {
    case 0:
      return { kind: 'namespaces', namespaces: sel({ team: team(i) }) };
    case 1:
      return { kind: 'pods', namespaces: sel({ ns: `ns${i % NS}` }), pods: sel({ app: `app${i % APPS}` }) };
    case 2:
      return { kind: 'pods', namespaces: sel({}, [{ key: 'team', operator: 'In', values: [team(i), team(i + 1)] }]), pods: sel({}, [{ key: 'tier', operator: 'In', values: ['db'] }]) };
    default:
      return { kind: 'namespaces', namespaces: sel({}, [{ key: 'ns', operator: 'NotIn', values: ['ns0', 'ns1'] }]) };
  }
}

type Template = (i: number) => { action: ClusterAction; peers: ClusterPeer[]; protocols?: ClusterPort[] };

const INGRESS: readonly Template[] = [
  (i) => ({ action: 'Accept', peers: [namespaces({ team: team(i) })], protocols: [port('TCP', 80), port('TCP', 443)] }),
  (i) => ({ action: 'Deny', peers: [pods({ ns: `ns${(i + 3) % NS}` }, { tier: 'front' })], protocols: [port('TCP', 5432, 5440)] }),
  (i) => ({ action: 'Pass', peers: [pods({}, { app: `app${(i + 7) % APPS}` }), namespaces({ ns: `ns${(i + 1) % NS}` })], protocols: [named('http')] }),
  () => ({ action: 'Accept', peers: [pods({ ns: 'ns0' }, {})], protocols: [named('metrics'), port('TCP', 9090)] }),
  (i) => ({ action: 'Deny', peers: [{ kind: 'namespaces', namespaces: sel({}, [{ key: 'team', operator: 'NotIn', values: [team(i)] }]) }] }),
  (i) => ({ action: 'Accept', peers: [pods({ team: team(i + 2) }, { tier: 'back' })], protocols: [port('UDP', 5000, 5100), port('SCTP', 3868)] }),
];

const EGRESS: readonly Template[] = [
  () => ({ action: 'Accept', peers: [pods({}, { tier: 'db' })], protocols: [port('TCP', 5432)] }),
  (i) => ({ action: 'Deny', peers: [{ kind: 'networks', cidrs: [`198.19.${i % 128}.0/24`, '198.19.128.0/17'] }] }),
  () => ({ action: 'Accept', peers: [{ kind: 'nodes', nodes: sel({}, [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', values: [] }]) }], protocols: [port('TCP', 6443), port('TCP', 10250)] }),
  (i) => ({ action: 'Pass', peers: [namespaces({ team: team(i + 1) })], protocols: [port('UDP', 53), port('TCP', 53)] }),
  (i) => ({ action: 'Accept', peers: [{ kind: 'networks', cidrs: [`198.18.${240 + (i % 8)}.0/24`] }, pods({ ns: `ns${i % NS}` }, {})], protocols: [port('TCP', 443), port('TCP', 8000, 8999)] }),
  (i) => ({ action: 'Deny', peers: [{ kind: 'nodes', nodes: sel({ 'topology.kubernetes.io/zone': `z${i % 3}` }) }] }),
];

/** `count` rules from the templates, starting at a rotating one. Baseline keeps one Pass in five (else Deny). */
function rules(templates: readonly Template[], tier: Tier, i: number, count: number, prefix: string): ClusterRule[] {
  return Array.from({ length: count }, (_, k) => {
    const r = templates[(i + k) % templates.length]!(i);
    const action = tier === 'Baseline' && r.action === 'Pass' && i % 5 !== 0 ? 'Deny' : r.action;
    return { name: `${prefix}-${k}`, action, peers: r.peers, ...(r.protocols === undefined ? {} : { protocols: r.protocols }) };
  });
}

/** Admin priorities tie for i and i+35, Baseline ones for i and i+40. */
function policy(tier: Tier, i: number): ClusterPolicy {
  return {
    name: `${tier.toLowerCase()}-${i}`,
    tier,
    priority: tier === 'Admin' ? (i % 35) * 25 : (i % 40) * 20,
    subject: subject(i),
    ingress: rules(INGRESS, tier, i, 1 + (i % 4), 'in'),
    egress: rules(EGRESS, tier, i + 2, i % 4, 'out'),
  };
}

export function syntheticClusterPolicies(perTier: number): { clusterPolicies: ClusterPolicy[]; nodes: NodePeerInfo[] } {
  const clusterPolicies = (['Admin', 'Baseline'] as const).flatMap((tier) => Array.from({ length: perTier }, (_, i) => policy(tier, i)));
  // n1 (this node) to n20: three control-plane nodes, three zones, every fourth with an ExternalIP too.
  const nodes = Array.from({ length: NODES }, (_, i): NodePeerInfo => ({
    name: `n${i + 1}`,
    labels: { 'kubernetes.io/os': 'linux', 'topology.kubernetes.io/zone': `z${i % 3}`, ...(i < 3 ? { 'node-role.kubernetes.io/control-plane': '' } : {}) },
    ips: [`198.18.224.${i + 1}`, ...(i % 4 === 0 ? [`198.18.225.${i + 1}`] : [])],
  }));
  return { clusterPolicies, nodes };
}
